package pools_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/poolhang/poolhang/internal/fdcount"
	"github.com/poolhang/poolhang/pools"
)

// Every ending call a strategy has returns on a healthy pool, and the
// harness's Terminate after it leaves nothing behind.
func TestEndingCallsLeaveNothing(t *testing.T) {
	calls := map[string]func(context.Context, pools.Pool) (bool, error){
		"terminate": func(ctx context.Context, p pools.Pool) (bool, error) {
			tp, ok := p.(pools.Terminator)
			if !ok {
				return false, nil
			}
			return true, tp.CallTerminate(ctx)
		},
		"shutdown": func(ctx context.Context, p pools.Pool) (bool, error) {
			sp, ok := p.(pools.Shutdowner)
			if !ok {
				return false, nil
			}
			return true, sp.Shutdown(ctx, pools.ShutdownOptions{Wait: true})
		},
		"shutdown-cancel": func(ctx context.Context, p pools.Pool) (bool, error) {
			sp, ok := p.(pools.Shutdowner)
			if !ok {
				return false, nil
			}
			return true, sp.Shutdown(ctx, pools.ShutdownOptions{CancelFutures: true})
		},
	}
	ran := 0
	for _, s := range strategies(t) {
		for name, call := range calls {
			t.Run(string(s)+"/"+name, func(t *testing.T) {
				p, leftNothing := startTwo(t, s)
				if _, err := p.Map(ctx(t), squares(6)); err != nil {
					t.Fatal(err)
				}
				has, err := call(ctx(t), p)
				if !has {
					p.Terminate()
					t.Skipf("%s has no %s call", s, name)
				}
				if errors.Is(err, errors.ErrUnsupported) {
					p.Terminate()
					leftNothing()
					t.Skipf("%s has no such %s: %v", s, name, err)
				}
				ran++
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
				p.Terminate()
				leftNothing()
			})
		}
	}
	if ran == 0 {
		t.Fatal("no strategy has an ending call")
	}
}

// The terminate() a caller makes waits for the task read lock, as
// CPython's _help_stuff_finish does: behind a dead holder it blocks, the
// caller's wait names the lock and the dead holder, it gives up when its
// context ends, and the harness's Terminate still ends the pool.
func TestCallTerminateBlocksBehindADeadHolder(t *testing.T) {
	for _, s := range []pools.Strategy{pools.Naive, pools.Respawn} {
		t.Run(string(s), func(t *testing.T) {
			p, leftNothing := startTwo(t, s)
			defer p.Terminate()
			holder := waitFor(t, p, func(sn pools.Snapshot) int {
				if len(sn.Locks) == 0 || sn.Locks[0].Holder == 0 {
					return 0
				}
				for _, w := range sn.Parties {
					if w.Worker && w.Exit == nil && !w.Idle {
						return 0
					}
				}
				return sn.Locks[0].Holder
			})
			if err := p.Signal(holder, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitFor(t, p, func(sn pools.Snapshot) int {
				if w, ok := sn.Worker(holder); ok && w.Exit != nil {
					return 1
				}
				return 0
			})
			c, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.(pools.Terminator).CallTerminate(c) }()
			waitFor(t, p, func(sn pools.Snapshot) int {
				w := sn.Parties[0].Wait
				if sn.Parties[0].Role == pools.RoleCaller && w != nil && w.Kind == pools.WaitLock && w.Holder == holder && !w.Ready {
					return 1
				}
				return 0
			})
			select {
			case err := <-done:
				t.Fatalf("terminate() returned behind a dead holder: %v", err)
			default:
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("terminate() gave up with %v, want context.Canceled", err)
			}
			p.Terminate()
			leftNothing()
		})
	}
}

// startTwo starts a pool of 2 workers, and returns with it the check
// that, once the pool is ended, every worker it started is reaped and
// no descriptor is left open.
func startTwo(t *testing.T, s pools.Strategy) (pools.Pool, func()) {
	t.Helper()
	fds := fdcount.Count(t)
	p, err := pools.Start(s, pools.Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	pids := workerPIDs(p.Snapshot())
	return p, func() {
		t.Helper()
		for _, pid := range pids {
			assertReaped(t, pid)
		}
		if got := fdcount.Count(t); got != fds {
			t.Errorf("open descriptors: %d before, %d after", fds, got)
		}
	}
}

// waitFor polls the pool's snapshots until f returns non-zero.
func waitFor(t *testing.T, p pools.Pool, f func(pools.Snapshot) int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if sn := p.Snapshot(); sn.Consistent {
			if v := f(sn); v != 0 {
				return v
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the pool never reached the state")
	return 0
}
