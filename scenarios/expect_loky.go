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

// loky in the call-style and option sections (loky 3.3,
// process_executor.py and _base.py, as joblib 1.2 ships it). Its manager
// is CPython's, so its cells read as failfast's, each argued from loky's
// own functions.
func init() {
	expectSection("callback", pools.Loky, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, "loky's _process_worker catches BaseException around the call and sends the error (_sendback_result); "+
			"process_result_item calls future.set_exception, and Future._invoke_callbacks runs the done-callback; the pool goes on"),
		{dies, faults.TaskRun}: raised(ErrKindBroken, lokyTerminated+"; set_exception runs each future's done-callback"),
		{raises, faults.ResultDecode}: raised(ErrKindBroken, "result_reader.recv() fails to unpickle job 2's result inside wait_result_broken_or_wakeup (`except BaseException`): "+
			"BrokenProcessPool(\"A result has failed to un-serialize\"), and terminate_broken fails every pending job, each done-callback running with it"),
		{raises, faults.Callback}: raised(ErrKindCallback, "loky's Future._invoke_callbacks (_base.py, its only change to concurrent.futures' Future) catches BaseException around each "+
			"done-callback and logs it (LOGGER.exception('exception calling callback for %r')); job 2's result was set before, and the manager goes on: "+
			"only the caller's record of job 2 carries its callback's error"),
	})
	const (
		broke    = "the death breaks the executor (TerminatedWorkerError, terminate_broken) before the get gives up: every pending job fails; "
		idleDied = "an idle worker's sentinel breaks the executor before the jobs are submitted: every submit raises TerminatedWorkerError (`raise self._flags.broken`); "
		recvTorn = "the manager reads job 2's frame itself (result_reader.recv() in wait_result_broken_or_wakeup) and blocks on the rest the dead worker never wrote: " +
			"it never wakes for the shutdown, so shutdown(wait=True)'s executor_manager_thread.join() waits forever"
	)
	expectSection("shutdown", pools.Loky, map[When]Expectation{
		{dies, faults.TaskRun}:        raised(ErrKindBroken, broke+"shutdown(wait=True) then finds the manager gone"),
		{dies, faults.IdleLockHolder}: raised(ErrKindBroken, idleDied+"shutdown finds the manager gone"),
		{dies, faults.ResultWrite}:    hang(recvTorn),
		{never, faults.TaskRun}: hang("shutdown(wait=True, kill_workers=False) flags the executor and wakes the manager; flag_executor_shutting_down kills nothing, and job 2 " +
			"stays in pending_work_items, so run() never reaches join_executor_internals, and the join waits forever"),
	})
	// The terminate() of a loky program is shutdown(wait=True,
	// kill_workers=True): the executor has no terminate().
	expectSection("terminate", pools.Loky, map[When]Expectation{
		{dies, faults.TaskRun}:        raised(ErrKindBroken, broke+"shutdown(wait=True, kill_workers=True) then finds the manager gone"),
		{dies, faults.IdleLockHolder}: raised(ErrKindBroken, idleDied+"shutdown(kill_workers=True) finds the manager gone"),
		{dies, faults.ResultWrite}:    hang(recvTorn + "; kill_workers=True changes nothing, since only the manager kills"),
		{never, faults.TaskRun}: raised(ErrKindTerminated, "loky's executor has no terminate(); shutdown(wait=True, kill_workers=True) wakes the manager, whose "+
			"flag_executor_shutting_down, with kill_workers set, fails every pending work item, running job 2 included, with ShutdownExecutorError and SIGKILLs "+
			"every worker (kill_workers, kill_process_tree); nothing is pending, so it joins the internals and returns, and so does shutdown"),
	})
	expectSection("initializer", pools.Loky, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindBroken, "loky's _process_worker catches the initializer's error (`except BaseException: LOGGER.critical('Exception in initializer:'); return`) "+
			"and returns without sending its pid (\"The parent will notice that the process stopped and mark the pool broken\"): the worker exits with code 0, "+
			"its sentinel fires with the result pipe empty, and TerminatedWorkerError (\"The exit codes of the workers are {EXIT(0)}\") breaks the executor: every job fails"),
	})
}
