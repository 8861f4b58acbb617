package faults_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// A sigstop-cont fault is a real SIGSTOP that a real SIGCONT ends: the
// kernel shows the worker in state T holding its job, and once continued
// it finishes the job with its right value and clears its stop.
func TestSIGSTOPThenSIGCONTGoesOn(t *testing.T) {
	p, err := pools.Start(pools.Naive, pools.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Terminate() })
	k, err := faults.Lookup("sigstop-cont")
	if err != nil {
		t.Fatal(err)
	}
	task := pools.Square(3)
	task.Triggers = []pools.Trigger{k.Trigger(faults.TaskRun)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := p.Submit(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	pid := stoppedAtTaskRun(ctx, t, p)
	if _, done := f.Result(); done {
		t.Fatal("the stopped worker's job was answered before any SIGCONT")
	}
	if err := p.Signal(pid, unix.SIGCONT); err != nil {
		t.Fatal(err)
	}
	res, err := f.Wait(ctx)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("after SIGCONT the worker did not finish its job: %v", err)
	}
	if n, err := pools.Int(res.Value); err != nil || n != 9 {
		t.Errorf("value %x (%v), want 9", res.Value, err)
	}
	for _, w := range p.Snapshot().Parties {
		if w.PID == pid && (w.Exit != nil || w.Stop != 0) {
			t.Errorf("the continued worker: exit %v, stop %q; want alive with its stop cleared", w.Exit, w.Stopped)
		}
	}
}

// stoppedAtTaskRun waits until the pool shows a worker the kernel has
// stopped (state T) and returns its pid; it must be alive, at task-run,
// holding job 0.
func stoppedAtTaskRun(ctx context.Context, t *testing.T, p pools.Pool) int {
	t.Helper()
	for ctx.Err() == nil {
		for _, w := range p.Snapshot().Parties {
			if w.Worker && w.Wait != nil && w.Wait.Kind == pools.WaitStopped && !w.Wait.Ready {
				if w.Stopped != "task-run" || w.Job != 0 || w.Exit != nil {
					t.Errorf("stopped worker: at %q holding job %d, exit %v; want alive at task-run holding job 0", w.Stopped, w.Job, w.Exit)
				}
				return w.PID
			}
		}
	}
	t.Fatal("the worker never showed as stopped")
	return 0
}
