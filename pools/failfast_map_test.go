package pools_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// failfast's Map follows Executor.map's result_iterator (CPython 3.11
// concurrent/futures/_base.py): results in job order, a raise at the
// first failed job without waiting for later ones, and then a cancel of
// every later job not yet on the call queue.
func TestFailFastMapRaisesInOrder(t *testing.T) {
	trig := func(kind string, ph faults.Phase) pools.Trigger { return trigger(t, kind, ph) }
	for _, c := range []struct {
		name          string
		workers, jobs int
		faults        map[int]pools.Trigger
		// want: the number of ok jobs before the failed one (the failed
		// one is next), and how many later jobs are cancelled; -1 for a
		// map with no failure.
		ok, cancelled int
	}{
		{"no failure", 2, 6, nil, 6, -1},
		// A later job that never returns is not waited for: the real
		// pool raises here, where a wait for every job would hang.
		{"raise before a stuck job", 2, 6, map[int]pools.Trigger{0: trig("raise", faults.TaskRun), 3: trig("stuck", faults.TaskRun)}, 0, 0},
		{"values before the failed job", 2, 6, map[int]pools.Trigger{2: trig("raise", faults.TaskRun)}, 2, 0},
		// One worker stuck on job 1 after job 0 raised: the manager has
		// moved jobs 0 to workers+64 = 65 to the call queue (job 65 once
		// job 0's result made room), so jobs 1..65 are running and
		// 66..79 still pending: those 14 are cancelled.
		{"pending jobs are cancelled", 1, 80, map[int]pools.Trigger{0: trig("raise", faults.TaskRun), 1: trig("stuck", faults.TaskRun)}, 0, 14},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ts := failfastWith(t, c.workers, c.jobs, c.faults)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := p.Map(ctx, ts)
			if err != nil {
				t.Fatalf("Map: %v (a failfast map must not wait for a job after the first failed one)", err)
			}
			cancelled := 0
			for i, r := range out {
				switch {
				case i < c.ok:
					if n, err := pools.Int(r.Value); r.Err != nil || err != nil || n != int64(i*i) {
						t.Errorf("job %d: %v %v, want its value", i, r.Value, r.Err)
					}
				case i == c.ok:
					var te *pools.TaskError
					if !errors.As(r.Err, &te) {
						t.Errorf("job %d: %v, want its task error", i, r.Err)
					}
				case errors.Is(r.Err, pools.ErrMapCancelled):
					cancelled++
				case !errors.Is(r.Err, pools.ErrNotDelivered):
					t.Errorf("job %d after the failed one: %v, want cancelled or not delivered", i, r.Err)
				}
			}
			if c.cancelled >= 0 && cancelled != c.cancelled {
				t.Errorf("%d jobs cancelled, want %d", cancelled, c.cancelled)
			}
		})
	}
}

// trigger is kind's trigger at phase ph, from the fault catalog.
func trigger(t *testing.T, kind string, ph faults.Phase) pools.Trigger {
	t.Helper()
	k, err := faults.Lookup(kind)
	if err != nil {
		t.Fatal(err)
	}
	return k.Trigger(ph)
}

// failfastWith starts a failfast pool of workers, terminated when the
// test ends, and makes jobs squaring tasks, job i with the trigger at[i].
func failfastWith(t *testing.T, workers, jobs int, at map[int]pools.Trigger) (pools.Pool, []pools.Task) {
	t.Helper()
	return startWith(t, pools.FailFast, pools.Options{Workers: workers}, jobs, at)
}
