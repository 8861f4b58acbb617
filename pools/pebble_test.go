package pools_test

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// until polls the pool's snapshot until ok holds, or fails the test.
func until(t *testing.T, p pools.Pool, what string, ok func(pools.Snapshot) bool) pools.Snapshot {
	t.Helper()
	c := ctx(t)
	for {
		s := p.Snapshot()
		if s.Consistent && ok(s) {
			return s
		}
		if c.Err() != nil {
			t.Fatalf("never saw %s; last snapshot: %+v", what, s)
		}
		time.Sleep(time.Millisecond)
	}
}

// settled: the pool manager waits and no worker is dead uninspected
// (pebble's inspect_workers has popped and reaped every dead one).
func settled(s pools.Snapshot, live int) bool {
	mgr, ok := s.PartyByID("pool manager")
	if !ok || (!mgr.Done && (mgr.Wait == nil || mgr.Wait.Ready)) {
		return false
	}
	for _, w := range s.Parties {
		if w.Worker && w.Exit != nil && w.Zombie {
			return false
		}
	}
	return len(workerPIDs(s)) == live
}

// A worker that exits with code 0 after acknowledging a task is not a
// death to pebble (inspect_workers: `if w.exitcode != 0`): it is
// replaced, the next task runs, and its own task is never answered.
func TestPebbleExitZeroIsARetirement(t *testing.T) {
	p, err := pools.Start(pools.Pebble, pools.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	lost := pools.Square(4)
	lost.Triggers = []pools.Trigger{{Action: "exit-zero", At: pools.PointTaskRun}}
	f0, err := p.Submit(ctx(t), lost)
	if err != nil {
		t.Fatal(err)
	}
	f1, err := p.Submit(ctx(t), pools.Square(5))
	if err != nil {
		t.Fatal(err)
	}
	r1, err := f1.Wait(ctx(t))
	if v, _ := pools.Int(r1.Value); err != nil || r1.Err != nil || v != 25 {
		t.Fatalf("job 1 on the replacement: %d, %v, %v", v, r1.Err, err)
	}
	until(t, p, "the death inspected and the worker replaced", func(s pools.Snapshot) bool { return settled(s, 1) })
	if r, ok := f0.Result(); ok {
		t.Fatalf("job 0, whose worker exited 0 mid-task, was answered: %+v", r)
	}
}

// A worker that dies holding the channel's writer mutex (it pickles its
// result inside it) fails its own task with ProcessExpired; with
// LockTimeout set, the replacement takes the reader mutex, times out on
// the writer mutex and exits 1 (ChannelError is an OSError) still holding
// the reader mutex, which ChannelMutex.__enter__ never releases; with no
// task running, the pool manager's find_expired_task puts the pool in
// ERROR. Nothing answers job 1, and every later schedule raises.
func TestPebbleLockTimeoutLeavesThePoolInError(t *testing.T) {
	p, err := pools.Start(pools.Pebble, pools.Options{Workers: 1, LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	f0, err := p.Submit(ctx(t), withFault(pools.Square(2), "segfault", faults.ResultEncode))
	if err != nil {
		t.Fatal(err)
	}
	r0, err := f0.Wait(ctx(t))
	var wl *pools.WorkerLost
	if err != nil || !errors.As(r0.Err, &wl) || wl.Status.Signal != syscall.SIGSEGV || wl.Phase != "result-encode" {
		t.Fatalf("job 0: %v, %v; want WorkerLost (ProcessExpired) by SIGSEGV in result-encode", r0.Err, err)
	}
	f1, err := p.Submit(ctx(t), pools.Square(3))
	if err != nil {
		t.Fatal(err)
	}
	s := until(t, p, "the pool in ERROR", func(s pools.Snapshot) bool {
		mgr, ok := s.PartyByID("pool manager")
		return ok && mgr.Done
	})
	if _, ok := f1.Result(); ok {
		t.Fatal("job 1 was answered by a pool in ERROR")
	}
	holders := map[string]pools.Party{}
	for _, l := range s.Locks {
		w, ok := s.Worker(l.Holder)
		if !ok || w.Exit == nil {
			t.Fatalf("the %s is held by pid %d, want a dead worker (locks %+v)", l.Name, l.Holder, s.Locks)
		}
		holders[l.Name] = w
	}
	if x := holders["task-queue read lock"].Exit; x.Signal != 0 || x.Code != 1 {
		t.Errorf("the reader mutex's holder ended %s, want exit code 1 (ChannelError)", x)
	}
	if x := holders["result-queue write lock"].Exit; x.Signal != syscall.SIGSEGV {
		t.Errorf("the writer mutex's holder ended %s, want SIGSEGV", x)
	}
	if _, err := p.Submit(ctx(t), pools.Square(4)); !errors.Is(err, pools.ErrPebbleError) {
		t.Errorf("a schedule on the pool in ERROR: %v, want ErrPebbleError", err)
	}
}
