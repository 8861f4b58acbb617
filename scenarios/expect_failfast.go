package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// failfast: CPython 3.11 concurrent.futures.ProcessPoolExecutor.
func init() {
	expect(StrategyExpectations{
		Strategy: pools.FailFast, File: expectFile(pools.FailFast), NeverHangs: failfastNeverHangs,
		Cells: map[When]Expectation{
			{raises, faults.TaskEncode}:         raised(ErrKindEncode, "the feeder's encoding error is set on job 2 (_on_queue_feeder_error) and the pool goes on"),
			{raises, faults.TaskDecode}:         raised(ErrKindBroken, "the task is decoded outside the worker's guard: the worker dies and the pool breaks"),
			{raises, faults.TaskRun}:            raised(ErrKindTask, "the worker catches BaseException around the call and sends the error as job 2's result"),
			{raises, faults.ResultEncode}:       raised(ErrKindEncode, "_sendback_result catches the encoding error and sends it as job 2's error"),
			{raises, faults.ResultDecode}:       raised(ErrKindBroken, brokeRead),
			{exits, faults.TaskDecode}:          raised(ErrKindBroken, "the task is decoded outside the worker's guard: SystemExit ends the worker and the pool breaks"),
			{exits, faults.TaskRun}:             raised(ErrKindExit, "the worker catches BaseException: SystemExit becomes job 2's error and the pool goes on"),
			{exits, faults.ResultEncode}:        raised(ErrKindExit, "_sendback_result catches BaseException: SystemExit becomes job 2's error"),
			{exits, faults.ResultDecode}:        raised(ErrKindBroken, brokeRead),
			{dies, faults.TaskDecode}:           raised(ErrKindBroken, brokeDies),
			{dies, faults.TaskRun}:              raised(ErrKindBroken, brokeDies),
			{dies, faults.ResultEncode}:         raised(ErrKindBroken, brokeDies+" (the worker dies while it encodes the result, before any byte is written: the result pipe is empty, so the manager's wait sees the sentinel)"),
			{dies, faults.ResultWrite}:          hang("3.11's manager reads a result itself once the result pipe is readable (_ExecutorManagerThread.wait_result_broken_or_wakeup: result_reader.recv(); 3.6 to 3.13 and main alike): the worker died mid-frame, so recv waits for bytes only the dead worker could write and the manager never looks at the sentinels again; the dead worker stays a zombie"),
			{dies, faults.IdleLockHolder}:       raised(ErrKindBroken, "an idle worker's death breaks the pool before the map: every submit fails"),
			{dies, faults.IdleLockWaiter}:       raised(ErrKindBroken, "an idle worker's death breaks the pool before the map: every submit fails"),
			{readerr, faults.ResultDecode}:      raised(ErrKindBroken, brokeRead),
			{clean, faults.TaskDecode}:          raised(ErrKindBroken, brokeExit0),
			{clean, faults.TaskRun}:             raised(ErrKindBroken, brokeExit0),
			{clean, faults.ResultEncode}:        raised(ErrKindBroken, brokeExit0),
			{stops, faults.TaskDecode}:          hang(stoppedUnseen),
			{stops, faults.TaskRun}:             hang(stoppedUnseen),
			{stops, faults.ResultEncode}:        hang(stoppedUnseen),
			{stops, faults.ResultWrite}:         hang("the worker stops after writing part of job 2's result frame: the manager, which reads results itself (wait_result_broken_or_wakeup: result_reader.recv()), waits in recv for the rest of the frame that only the stopped worker could write, and looks at no sentinel again"),
			{stops, faults.IdleLockHolder}:      hang("the stopped idle worker holds the call queue's read lock (multiprocessing.Queue.get: `with self._rlock: res = self._recv_bytes()`): it is alive, so no sentinel fires and the pool never breaks, and no other worker reads a call again"),
			{conts, faults.TaskDecode}:          done(stoppedWaitedFor + "; once continued, _process_worker decodes job 2's call item and runs it: a late answer" + lateNote),
			{conts, faults.TaskRun}:             done(stoppedWaitedFor + "; once continued, _process_worker returns from the call and _sendback_result puts job 2's result, which the manager reads: a late answer" + lateNote),
			{conts, faults.ResultEncode}:        done(stoppedWaitedFor + "; once continued, _sendback_result sends job 2's result: a late answer" + lateNote),
			{conts, faults.ResultWrite}:         done("the manager, which reads results itself (wait_result_broken_or_wakeup: result_reader.recv()), waits in recv for the rest of job 2's frame; once continued, the worker writes it: a late answer" + lateNote),
			{conts, faults.IdleLockHolder}:      done("the stopped idle worker holds the call queue's read lock (multiprocessing.Queue.get: `with self._rlock: res = self._recv_bytes()`): it is alive, so no sentinel fires and the pool does not break; once continued, its read goes on and every call is run" + lateNote),
			{ctrlC, faults.TaskDecode}:          raised(ErrKindInterrupted, ctrlCFutures+"; the worker decoding job 2 gets it inside call_queue.get, unguarded, and ends with code 1"),
			{ctrlC, faults.TaskRun}:             raised(ErrKindInterrupted, ctrlCFutures+"; the worker running job 2 catches it (`except BaseException` around the call) and sends it as job 2's exception"),
			{ctrlC, faults.ResultEncode}:        raised(ErrKindInterrupted, ctrlCFutures+"; the worker encoding job 2's result catches it (_sendback_result: `except BaseException`) and sends an error instead"),
			{never, faults.TaskRun}:             hang("ProcessPoolExecutor has no per-task deadline: a task that never returns is waited for forever"),
			{outsized, faults.TaskRun}:          done("shutdown(wait=True) joins only the manager thread, and the manager reads results itself until no work item is pending (_ExecutorManagerThread.run: wait_result_broken_or_wakeup, then process_result_item; 3.11), so job 2's 1 MiB is drained while the caller waits and the worker's put returns; the manager joins the workers only after that (join_executor_internals)"),
			{parentDies, faults.TaskRun}:        orphaned("3.11's _process_worker closes neither end of the call queue nor of the result queue (inherited at fork; pickled whole by Queue.__getstate__ and SimpleQueue.__getstate__ for spawn), so every worker itself holds the call queue's write end: once the parent is dead, call_queue.get(block=True) never reads end-of-file. The worker that held job 2 writes its result into a pipe whose read end the workers hold, and goes back to get(); every worker ends blocked in read on the call queue or on its read lock, held by another orphan, for good (python/cpython issue 111873)"),
			{blocksAtStart, faults.WorkerStart}: hang("both workers block at their start on the lock they inherited held, before they read a call: they are alive, so no sentinel fires and the manager (_ExecutorManagerThread.wait_result_broken_or_wakeup) waits on the result pipe forever; 3.11 starts workers on demand but never asks them to report that they started (python/cpython issue 105464)"),
		},
	})
}

const (
	// ctrlCFutures: the caller's side decides the verdict.
	ctrlCFutures = "the caller waits in Future.result -> Condition.wait -> lock.acquire(), which a signal interrupts on POSIX since 3.2: it gets KeyboardInterrupt at once, and map delivers no job. An idle worker gets KeyboardInterrupt in call_queue.get, which _process_worker does not guard: it ends with code 1, and the manager breaks the pool (wait_result_broken_or_wakeup)"
	// stoppedUnseen: 3.11's manager sees deaths, not stops.
	stoppedUnseen = "_ExecutorManagerThread.wait_result_broken_or_wakeup (3.11) waits on the result pipe, the wakeup pipe and the workers' sentinels: a worker stopped by SIGSTOP (state T) writes nothing and its sentinel never fires, and ProcessPoolExecutor has no per-task timeout (Future.result(timeout) bounds only the caller's wait): the caller waits for job 2 forever"
	// stoppedWaitedFor: the same, for a stop that ends.
	stoppedWaitedFor = "_ExecutorManagerThread.wait_result_broken_or_wakeup (3.11) waits on the result pipe, the wakeup pipe and the workers' sentinels: a worker stopped by SIGSTOP (state T) writes nothing and its sentinel never fires, so the pool does not break, and ProcessPoolExecutor has no per-task timeout: the caller waits"
	// brokeExit0: 3.11's retirement (max_tasks_per_child) is announced by
	// a _ResultItem with exit_pid, and run() pops that process before its
	// sentinel is waited on again; an unannounced exit is a death.
	brokeExit0 = "_ExecutorManagerThread.wait_result_broken_or_wakeup (3.11) waits on the result pipe, the wakeup pipe and every worker's sentinel; a sentinel ready with no result leaves is_broken = True whatever the exit code, and _terminate_broken fails every pending job with BrokenProcessPool. A 3.11 worker that retires (max_tasks_per_child) says so first in a _ResultItem with exit_pid, and run() pops it from processes; exit(0) says nothing, so it is a death"
	brokeDies  = "a worker died while the pool was in use: the pool breaks and every pending job fails with BrokenProcessPool"
	brokeRead  = "reading a result failed: the manager breaks the pool and every pending job fails"
)

// failfastNeverHangs: a death breaks the pool, except mid-frame
// (result-write), where the manager blocks in recv on the torn frame as
// 3.11's does; and nothing bounds a task that never returns or a worker
// that is stopped, or notices a worker that is alive but blocked at its
// start; and under max_tasks_per_child a retired worker may not be
// replaced (115634).
func failfastNeverHangs(sc Scenario) bool {
	if sc.MaxTasks > 0 {
		return false // retired workers left unreplaced: section_maxtasks.go
	}
	return noFault(sc, func(k faults.Kind, f Fault) bool {
		return k.Effect == faults.NeverReturns || k.Effect == faults.Stops || k.Effect == faults.BlocksAtStart || (k.Effect == faults.Dies && f.Phase == faults.ResultWrite)
	})
}
