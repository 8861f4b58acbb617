package faults_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// big-result makes the task function return 1 MiB in place of its own
// value, at task-run only, and 1 MiB is more than a pipe buffers.
func TestBigResultIsLargerThanThePipe(t *testing.T) {
	k, err := faults.Lookup("big-result")
	if err != nil {
		t.Fatal(err)
	}
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		t.Fatal(err)
	}
	capacity, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GETPIPE_SZ, 0)
	unix.Close(fds[0])
	unix.Close(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	if faults.BigResultSize <= capacity {
		t.Fatalf("BigResultSize %d fits a pipe of %d bytes", faults.BigResultSize, capacity)
	}
	if k.Wait != "join" {
		t.Errorf("big-result's standard wait is %q, want join", k.Wait)
	}
	if got := k.Meaningful(); len(got) != 1 || got[0] != faults.TaskRun {
		t.Errorf("big-result strikes at %v, want task-run only", got)
	}

	p, err := pools.Start(pools.Respawn, pools.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	task := pools.Square(3)
	task.Triggers = []pools.Trigger{k.Trigger(faults.TaskRun)}
	f, err := p.Submit(ctx, task)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Wait(ctx)
	if err != nil || r.Err != nil {
		t.Fatalf("job: %v, %v", err, r.Err)
	}
	if want := k.Value(0); !bytes.Equal(r.Value, want) || len(want) != faults.BigResultSize {
		t.Errorf("value: %d bytes, want the kind's %d", len(r.Value), faults.BigResultSize)
	}

	// Anywhere but inside a task function, the returned value is an error.
	var rv *pools.Returned
	if err := pools.RunAction(k.Action, pools.PointResultEncode); !errors.As(err, &rv) {
		t.Errorf("return-big at result-encode: %v, want a *pools.Returned error", err)
	}
}
