package scenarios

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// atStart reports whether f strikes the pool's workers at their start
// (worker-start): it rides in the pool's options, not in a task, and
// the runner does not strike it.
func atStart(f Fault) bool {
	info, err := faults.ParsePhase(string(f.Phase))
	return err == nil && info.Where == faults.InStart
}

// startPool starts the scenario's pool with its worker-start fault, if
// any, in o.StartTrigger. For fork-held-lock the trigger's argument is
// the holder the workers' copy of the lock names: the id of the parent
// thread that starts them, which holds the lock meanwhile, as another
// thread of a forking parent holds logging's lock (its id exists only
// in the parent).
func startPool(sc Scenario, o pools.Options) (pools.Pool, error) {
	for _, f := range sc.Faults {
		if !atStart(f) {
			continue
		}
		k, err := faults.Lookup(f.Kind)
		if err != nil {
			return nil, err
		}
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		o.StartTrigger = k.Trigger(f.Phase)
		o.StartTrigger.Arg = int64(unix.Gettid())
	}
	return pools.Start(sc.Pool, o)
}

// FaultsCombine reports why the scenario's faults cannot strike together,
// or with its wait style, or nil: more than one worker-start fault, a
// Ctrl-C or a stop with a call style it is not modelled for, a
// big-result sharing its job's run with another fault.
func (sc Scenario) FaultsCombine() error {
	if err := sc.oneStartFault(); err != nil {
		return err
	}
	if err := sc.ctrlCWaits(); err != nil {
		return err
	}
	return sc.bigResultAlone()
}

// ctrlCWaits: the caller's side of a Ctrl-C (which waits a SIGINT
// interrupts, and what the caller then holds) is modelled for map, get
// and join; with the other call styles it is refused rather than run
// unargued.
func (sc Scenario) ctrlCWaits() error {
	if sc.Wait == "" || sc.Wait == WaitMap || sc.Wait == WaitGet || sc.Wait == WaitJoin {
		return nil
	}
	for _, f := range sc.Faults {
		k, err := faults.Lookup(f.Kind)
		if err != nil {
			continue
		}
		if k.Effect == faults.Interrupted {
			return fmt.Errorf("fault=%s with wait=%s: not modelled: the caller's side of a Ctrl-C is modelled for wait=map, get and join", f, sc.Wait)
		}
		if err := stopContEnds(sc, f, k); err != nil {
			return err
		}
		if k.Effect == faults.Stops && sc.Wait.Ends() {
			// terminate() and shutdown() send SIGTERM and join: a stopped
			// worker takes no SIGTERM until it is continued.
			return fmt.Errorf("fault=%s with wait=%s: not modelled: ending a pool whose worker is stopped (SIGTERM waits for a SIGCONT) is not modelled yet", f, sc.Wait)
		}
	}
	return nil
}

// oneStartFault: the workers start once, so a scenario has at most one
// worker-start fault, and the workers it blocks are never idle, so no
// idle fault can strike beside it.
func (sc Scenario) oneStartFault() error {
	n := 0
	for _, f := range sc.Faults {
		if atStart(f) {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%d worker-start faults: the pool's workers start once, so give at most one", n)
	}
	for _, f := range sc.Faults {
		if info, err := faults.ParsePhase(string(f.Phase)); n > 0 && err == nil && info.Where == faults.InIdle {
			return fmt.Errorf("fault %s cannot strike with a worker-start fault: the workers block at their start and are never idle", f)
		}
	}
	return nil
}

var (
	blocksAtStart = faults.BlocksAtStart
)

// Why no multiprocessing pool notices a worker blocked before its first
// task: the worker is alive, so nothing reaps or replaces it (3.11
// Pool._maintain_pool -> _join_exited_workers looks only at workers whose
// exitcode is set), and no pool waits for a worker to say it started. The
// standard scenario's 2 workers both block, so no task is ever read.
const (
	heldLock26 = "both workers block at their start on the lock they inherited held, before they read a task: 2.6's Pool has no worker handler and never looks at its workers until join; the tasks sit in the task pipe and the caller waits forever (python/cpython issue 105464)"
	heldLock3x = "both workers block at their start on the lock they inherited held, before they read a task; they are alive, so _handle_workers' _maintain_pool, which replaces only workers that exited (_join_exited_workers checks exitcode), never replaces them, and no task is ever read (python/cpython issue 105464)"
)

// StartMethods are the start methods a real pool can take (start=).
var StartMethods = []string{"fork", "forkserver", "spawn"}

func parseStart(val string) (string, error) {
	for _, m := range StartMethods {
		if m == val {
			return val, nil
		}
	}
	return "", fmt.Errorf("unknown start method %s (allowed: fork, forkserver, spawn)", short(val))
}
