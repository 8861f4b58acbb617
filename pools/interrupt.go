package pools

import (
	"errors"
	"os"
	"sync/atomic"
	"time"

	process "github.com/poolhang/poolhang/pools/internal/proc"
	"github.com/poolhang/poolhang/pools/internal/shm"
)

// KeyboardInterrupt models Python's KeyboardInterrupt: raised by SIGINT
// where the code is, a BaseException that is neither an Exception (so
// `except Exception` lets it through, as for SystemExit) nor SystemExit
// (uncaught in a worker, it ends the process with code 1, as
// multiprocessing's Process._bootstrap does with any uncaught exception).
type KeyboardInterrupt struct{}

func (*KeyboardInterrupt) Error() string { return "KeyboardInterrupt (SIGINT)" }

// IsKeyboardInterrupt reports whether err is, or wraps, a
// KeyboardInterrupt.
func IsKeyboardInterrupt(err error) bool {
	var k *KeyboardInterrupt
	return errors.As(err, &k)
}

// escapes reports whether err is a BaseException that `except Exception`
// does not catch: SystemExit or KeyboardInterrupt.
func escapes(err error) bool { return IsExitRequest(err) || IsKeyboardInterrupt(err) }

// pointInterrupt marks, in an await, a worker that waits at the point for
// the SIGINT of a Ctrl-C and then goes on.
const pointInterrupt Point = 0x20

// AwaitInterrupt records in the worker's slot that it reached the point
// and waits there for a SIGINT, so that the Ctrl-C lands exactly there.
// It returns the KeyboardInterrupt the signal raises at the point, or nil
// in a worker that ignores SIGINT (the task goes on). In the parent it
// returns nil at once.
func (s *Strike) AwaitInterrupt() error {
	if s.await == nil {
		return nil
	}
	s.await(s.At|pointInterrupt, s.Job)
	if ignoreSIGINT.Load() {
		return nil
	}
	return &KeyboardInterrupt{}
}

// ignoreSIGINT is the worker's WorkerMode.IgnoreSIGINT.
var ignoreSIGINT atomic.Bool

// sigintPoint is how a worker's main loop, waiting at a point for a
// SIGINT, is woken.
type sigintPoint struct {
	waiting atomic.Bool
	wake    chan struct{}
	// pending: a KeyboardInterrupt is on its way out of this worker; the
	// main loop raises it at its next step instead of going on (Python
	// raises it within a bytecode, so a worker never takes a task after
	// its Ctrl-C).
	pending atomic.Bool
}

// interruptedNow is the KeyboardInterrupt the main loop raises if a SIGINT
// came while it was blocked, or nil.
func (w *worker) interruptedNow() error {
	if w.sigint.pending.Load() {
		return &KeyboardInterrupt{}
	}
	return nil
}

// awaitInterrupt waits at p for the SIGINT; the slot shows the worker
// stopped at p for a signal until it arrives.
func (w *worker) awaitInterrupt(p Point, job int) {
	w.sigint.waiting.Store(true)
	w.setPoint(p, job)
	<-w.sigint.wake
	w.setPoint(0, job)
}

// siblings lists the other live workers of this pool (same parent), from
// the pool's shared slots.
func (w *worker) siblings() []int {
	var out []int
	for i := range shm.MaxSlots {
		pid := int(slotOf(w.reg, i).PID().Load())
		if pid == 0 || pid == int(w.pid) {
			continue
		}
		if st, ppid, ok := process.Stat(pid); ok && st != 'Z' && ppid == os.Getppid() {
			out = append(out, pid)
		}
	}
	return out
}

// awaitSiblings waits until every one of pids has ended (or, past a
// bound that only a pid reused by another child of the parent would
// reach, gives up): the worker at the point raises its KeyboardInterrupt
// once the others have died of theirs. Every process gets the Ctrl-C at
// once; this picks one real interleaving, the same from run to run, in
// which no worker takes a task after its Ctrl-C, as none does in Python,
// which raises it within a bytecode.
func (w *worker) awaitSiblings(pids []int) {
	end := time.Now().Add(2 * time.Second)
	for _, pid := range pids {
		for time.Now().Before(end) {
			if st, ppid, ok := process.Stat(pid); !ok || st == 'Z' || ppid != os.Getppid() {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// onSIGINT is a worker's SIGINT, the way Python delivers it to its main
// thread. A worker waiting at a point gets it there (AwaitInterrupt
// raises it). Anywhere else the KeyboardInterrupt escapes the worker's
// loop in every modelled pool (Pool.worker guards get() with `except
// (EOFError, OSError)` only and the call with `except Exception`;
// _process_worker does not guard call_queue.get), so the worker ends with
// code 1, after the `with`/`finally` blocks around its reads and writes
// release the locks it holds.
func (w *worker) onSIGINT(ch <-chan os.Signal) {
	for range ch {
		if w.sigint.waiting.CompareAndSwap(true, false) {
			if !w.mode.IgnoreSIGINT {
				w.awaitSiblings(w.siblings())
			}
			w.sigint.wake <- struct{}{}
			continue
		}
		if w.mode.IgnoreSIGINT {
			continue
		}
		w.sigint.pending.Store(true)
		if w.locks {
			for i := range numLocks {
				w.reg.Lock(i).ReleaseHeld(w.pid)
			}
		}
		os.Exit(1)
	}
}
