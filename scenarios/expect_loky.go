package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// loky: loky 3.3's reusable executor (joblib.externals.loky). Its
// process_executor.py is a fork of CPython's, and every standard cell
// follows the same mechanism as failfast's (ProcessPoolExecutor): the
// manager's wait_result_broken_or_wakeup reads a readable result pipe
// first (`if result_reader in ready: result_item = result_reader.recv()`),
// breaks the pool on a dead worker's sentinel with the pipe empty
// (TerminatedWorkerError, a BrokenProcessPool naming the exit codes) or on
// a result that fails to unpickle (BrokenProcessPool), and the worker
// guards the call and _sendback_result with `except BaseException`. The
// standard cell keeps one executor, as the real column's driver does;
// what get_reusable_executor adds, a fresh executor once the old one
// broke, is the recovery row (recovery.go).
// It starts from failfast's cells: expect_failfast.go's init runs first
// (a package's files are initialised in name order).
func init() {
	cells := map[When]Expectation{}
	for w, e := range expectations[pools.FailFast].Cells {
		cells[w] = e
	}
	for _, ph := range []faults.Phase{faults.TaskDecode, faults.TaskRun, faults.ResultEncode} {
		cells[When{dies, ph}] = raised(ErrKindBroken, lokyTerminated)
	}
	// loky's _process_worker catches BaseException around call_queue.get,
	// sends a _RemoteTraceback, then sys.exit(1); the model's worker just
	// exits (failfast's), and its sentinel breaks the pool: the same
	// answer by the next event.
	for _, eff := range []faults.Effect{raises, exits} {
		cells[When{eff, faults.TaskDecode}] = raised(ErrKindBroken, "loky's _process_worker catches the error unpickling its call item (`except BaseException`), sends a _RemoteTraceback and exits with sys.exit(1); the manager breaks the pool (\"A task has failed to un-serialize\") and every pending job fails (the model breaks on the worker's exit: the same answer)")
	}
	for _, ph := range []faults.Phase{faults.IdleLockHolder, faults.IdleLockWaiter} {
		cells[When{dies, ph}] = raised(ErrKindBroken, "an idle worker's sentinel fires with the result pipe empty: TerminatedWorkerError breaks the executor before the map, and every submit on it raises that error (ProcessPoolExecutor.submit: `raise self._flags.broken`)")
	}
	cells[When{conts, faults.IdleLockHolder}] = done("the stopped idle worker holds the call queue's read lock; it is alive, so no sentinel fires and the executor does not break. loky's other workers wait for that lock within their idle timeout (_process_worker: call_queue.get(block=True, timeout=timeout), 10 s in get_reusable_executor; the model has none), and the continue comes first: once continued, the worker's read goes on and every call is run" + lateNote)
	expect(StrategyExpectations{Strategy: pools.Loky, File: expectFile(pools.Loky), NeverHangs: failfastNeverHangs, Cells: cells})
}

const lokyTerminated = "a worker's sentinel fires with the result pipe empty: wait_result_broken_or_wakeup raises TerminatedWorkerError (a BrokenProcessPool naming the exit codes) and terminate_broken fails every pending job with it"
