package pools

import (
	"errors"
	"os"
)

// The options of a worker's life: it retires after a number of tasks, and
// it runs an initializer first.
const (
	// OptionMaxTasks: Options.MaxTasks (Pool's maxtasksperchild, 3.11
	// ProcessPoolExecutor's max_tasks_per_child).
	OptionMaxTasks Option = "maxtasks"
	// OptionInitializer: Options.InitFails, a pool initializer that
	// raises (Pool's and ProcessPoolExecutor's initializer=).
	OptionInitializer Option = "initializer"
)

// lifecycleSet lists the lifecycle options o sets.
func (o Options) lifecycleSet() []Option {
	var out []Option
	if o.MaxTasks != 0 {
		out = append(out, OptionMaxTasks)
	}
	if o.InitFails {
		out = append(out, OptionInitializer)
	}
	return out
}

// PhaseInitializer is Party.Phase for a worker that died in the pool's
// initializer, before its first task.
var PhaseInitializer = wInit.phase()

// ErrInitializer is what the pool's initializer raises, in every worker.
var ErrInitializer = errors.New("the pool's initializer raised")

// initialize runs the pool's initializer, as the worker functions do
// before their loop. CPython 3.11's multiprocessing.pool.worker calls
// `initializer(*initargs)` unguarded: the exception ends the worker
// (Process._bootstrap prints it and exits 1), and _maintain_pool starts
// another. concurrent.futures.process._process_worker guards it
// (`except BaseException: LOGGER.critical('Exception in initializer:');
// return`): the worker returns, exit code 0, without the exit message a
// retiring worker sends, so the manager sees an abrupt death. It reports
// the worker's exit code, or -1 if the initializer passed.
func (w *worker) initialize() int {
	if !w.initFails {
		return -1
	}
	w.slot.set(wInit, -1)
	if w.mode.InitReturns {
		return 0
	}
	os.Stderr.WriteString("poolhang worker: uncaught error in the initializer: " + ErrInitializer.Error() + "\n")
	return 1
}

// retire reports whether the worker has run its last task: 3.11 worker's
// `while maxtasks is None or (maxtasks and completed < maxtasks)`, and
// _process_worker's `if num_tasks >= max_tasks: exit_pid = os.getpid()`.
func (w *worker) retire(completed int) bool {
	return w.maxTasks > 0 && completed >= w.maxTasks
}
