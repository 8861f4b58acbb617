package pools_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/poolhang/poolhang/pools"
)

// Workers that retire after MaxTasks are replaced in respawn (3.11
// _maintain_pool): every job completes, and each worker ran at most
// MaxTasks tasks, so a worker was started per task.
func TestRespawnReplacesRetiredWorkers(t *testing.T) {
	p, err := pools.Start(pools.Respawn, pools.Options{Workers: 2, MaxTasks: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	ts := make([]pools.Task, 12)
	for i := range ts {
		ts[i] = pools.Square(int64(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs, err := p.(pools.ChunkMapper).MapChunks(ctx, ts, 1) // a task per job
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if v, err := pools.Int(r.Value); r.Err != nil || err != nil || v != int64(i*i) {
			t.Fatalf("job %d: %v %v", i, r.Value, r.Err)
		}
	}
	slots := 0
	for _, w := range p.Snapshot().Parties {
		slots = max(slots, w.Slot)
	}
	if slots < 12 {
		t.Errorf("12 jobs with maxtasks=1 started %d workers, want at least 12 (one per job)", slots)
	}
}

// python/cpython issue 115634's reproducer, ProcessPoolExecutor(1,
// max_tasks_per_child=2) with 10 submits, "prints 0 and 1, then hangs":
// the worker's first result releases a token of _idle_worker_semaphore,
// its retirement takes it instead of starting a replacement, and 8 jobs
// wait with no worker. The reproducer's submits all come before the
// first result (its worker is an interpreter spawned at the first
// submit); failfast's Map holds the manager until its last submit to
// keep that order, and this test submits through that hold.
func TestFailFastRetiredWorkerNotReplaced(t *testing.T) {
	p, err := pools.Start(pools.FailFast, pools.Options{Workers: 1, MaxTasks: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	submit := pools.MapSubmitter(p, 10)
	var fs []*pools.Future
	for i := range 10 {
		f, err := submit(context.Background(), pools.Square(int64(i)))
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	waitStranded(t, p, fs, 2)
}

// The order that 115634 needs is forced at the map's last submit, not
// left to timing: a caller that stalls after two submits until the
// worker has answered both and retired still strands the jobs, since the
// manager takes those results only after the last submit.
func TestFailFastMapHoldsResultsUntilSubmitted(t *testing.T) {
	p, err := pools.Start(pools.FailFast, pools.Options{Workers: 1, MaxTasks: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	submit := pools.MapSubmitter(p, 4)
	var fs []*pools.Future
	add := func(i int) {
		f, err := submit(context.Background(), pools.Square(int64(i)))
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	add(0)
	add(1)
	for deadline := time.Now().Add(10 * time.Second); liveWorkers(p) > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the worker never retired after 2 tasks")
		}
	}
	for _, f := range fs {
		if _, done := f.Result(); done {
			t.Fatalf("the manager took job %d's result before the map's last submit", f.Job())
		}
	}
	add(2)
	add(3)
	waitStranded(t, p, fs, 2)
}

// Without the hold, the same stall is the other branch of the race, and
// the mechanism's own: a submit after a result takes its token, so the
// retirement finds none and starts a replacement (3.11
// _adjust_process_count), and every job completes. Plain submits, one
// waited for before the next, give that order.
func TestFailFastSubmitAfterResultReplaces(t *testing.T) {
	p, err := pools.Start(pools.FailFast, pools.Options{Workers: 1, MaxTasks: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 4 {
		f, err := p.Submit(ctx, pools.Square(int64(i)))
		if err != nil {
			t.Fatal(err)
		}
		if r, err := f.Wait(ctx); err != nil || r.Err != nil {
			t.Fatalf("job %d: %v %v (the retired worker was not replaced)", i, err, r.Err)
		}
	}
}

// waitStranded checks 115634's end: the first done jobs of fs complete,
// then no worker is left and the rest stay pending.
func waitStranded(t *testing.T, p pools.Pool, fs []*pools.Future, done int) {
	t.Helper()
	for _, f := range fs[:done] {
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := f.Wait(wctx)
		cancel()
		if err != nil || r.Err != nil {
			t.Fatalf("job %d: %v %v", f.Job(), err, r.Err)
		}
	}
	want := len(fs) - done
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s := p.Snapshot()
		if len(s.Pending) < want {
			t.Fatalf("the retired worker was replaced: pending %v, want %d jobs stranded", s.Pending, want)
		}
		if liveWorkers(p) == 0 {
			return // stranded: no worker, and nobody will start one
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the worker never retired: %+v", p.Snapshot())
}

// A failing initializer: respawn's workers die of it (exit code 1), and
// failfast's return (exit code 0) without the exit message, so the
// manager breaks the pool.
func TestInitializerFails(t *testing.T) {
	p, err := pools.Start(pools.FailFast, pools.Options{Workers: 2, InitFails: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs, _ := p.Map(ctx, []pools.Task{pools.Square(1)})
	if len(rs) != 1 || rs[0].Err == nil || !strings.Contains(rs[0].Err.Error(), "terminated abruptly") {
		t.Errorf("failfast with a failing initializer: %+v, want a broken pool", rs)
	}
	if _, err := pools.Start(pools.Naive, pools.Options{Workers: 1, MaxTasks: 1}); err == nil || !strings.Contains(err.Error(), "does not take it") {
		t.Errorf("naive with MaxTasks: %v, want a refusal", err)
	}
	if _, err := pools.Start(pools.Respawn, pools.Options{Workers: 1, MaxTasks: -1}); err == nil {
		t.Error("respawn with MaxTasks -1 started")
	}
}

// liveWorkers counts the pool's workers that have not exited.
func liveWorkers(p pools.Pool) int {
	live := 0
	for _, w := range p.Snapshot().Parties {
		if w.Role == pools.RoleWorker && w.Exit == nil {
			live++
		}
	}
	return live
}
