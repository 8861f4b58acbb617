package pools_test

import (
	"testing"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// pebble's ProcessPool(max_tasks=N) (pebble 5.0): a worker's loop ends
// after N tasks (worker_get_next_task) and it exits 0 holding no task;
// inspect_workers does not report exit code 0 and create_workers replaces
// it, so nothing is lost. With one worker and N tasks a worker, the
// retirements are counted exactly: every worker that ran its N tasks.
func TestPebbleMaxTasks(t *testing.T) {
	trig := func(kind string, ph faults.Phase) pools.Trigger { return trigger(t, kind, ph) }
	v, task, segv := wantValue, wantTask, wantSegv
	for _, c := range []struct {
		name     string
		maxTasks int
		faults   map[int]pools.Trigger
		want     []want
		retired  int // workers that exited 0
	}{
		{"one task a worker", 1, nil, []want{v, v, v}, 3},
		{"two tasks a worker", 2, nil, []want{v, v, v, v, v, v}, 3},
		{"two tasks a worker, the last short", 2, nil, []want{v, v, v, v, v}, 2},
		{"an error in a replacement", 2, map[int]pools.Trigger{5: trig("raise", faults.TaskRun)}, []want{v, v, v, v, v, task}, 3},
		{"a death in a replacement", 2, map[int]pools.Trigger{5: trig("segfault", faults.TaskRun)}, []want{v, v, v, v, v, segv}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ts := startWith(t, pools.Pebble, pools.Options{Workers: 1, MaxTasks: c.maxTasks}, len(c.want), c.faults)
			out, err := p.Map(ctx(t), ts)
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			for i, r := range out {
				checkResult(t, i, r, c.want[i])
			}
			retired := func(s pools.Snapshot) int {
				n := 0
				for _, w := range s.Parties {
					if w.Worker && w.Exit != nil && w.Exit.Signal == 0 && w.Exit.Code == 0 {
						n++
					}
				}
				return n
			}
			// A retiring worker is alive until it has exited: wait for
			// the retirements due, then see that no more came.
			s := until(t, p, "the retirements inspected and replaced", func(s pools.Snapshot) bool { return settled(s, 1) && retired(s) >= c.retired })
			if retired := retired(s); retired != c.retired {
				t.Errorf("%d workers exited 0, want %d (parties %+v)", retired, c.retired, s.Parties)
			}
		})
	}
}
