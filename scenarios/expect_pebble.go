package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// pebble: pebble 5.0's ProcessPool (pebble/pool/process.py, channel.py,
// base_pool.py), as Debian's python3-pebble ships it. The standard
// scenario maps with ProcessPool.map (chunksize 1, no timeout), whose
// MapResults raise at the first failed job in order. The matrix runs the
// model without the channel lock's LOCK_TIMEOUT (60 s in pebble, longer
// than any real cell is watched): what happens when it expires is modelled
// (pools.Options.LockTimeout) and tested in pools.
func init() {
	expect(StrategyExpectations{
		Strategy: pools.Pebble, File: expectFile(pools.Pebble), NeverHangs: pebbleNeverHangs,
		NoStandardDeadline: "py:pebble's map runs without a timeout, so the model's standard cells do too (deadline=, pebble's schedule(timeout=), runs any scenario with one)",
		Cells: map[When]Expectation{
			{raises, faults.TaskEncode}:         hang(pebbleDeadScheduler),
			{raises, faults.TaskDecode}:         hang("the worker unpickles the task inside task_transaction (Connection.recv under channel.lock) and the error is not one worker_process catches (OSError, RuntimeError, EOFError): the worker exits 1 before it sends the ACK, so no task has its worker_id and handle_worker_expiration fails nothing (find_expired_task: LookupError, swallowed, or with no task running BrokenProcessPool(\"All workers expired\"), which leaves the pool in ERROR); job 2 is never answered"),
			{raises, faults.TaskRun}:            raised(ErrKindTask, "process_execute catches Exception around the function and sends it back as job 2's result (RemoteException); the pool goes on"),
			{raises, faults.ResultEncode}:       raised(ErrKindWorkerLost, "send_result catches only PicklingError and TypeError: the error ends the worker (exit code 1) after its ACK was handled, and handle_worker_expiration sets ProcessExpired on job 2 (find_expired_task finds the task by its worker_id); the map raises it"),
			{raises, faults.ResultDecode}:       hang(pebbleDeadMessages),
			{exits, faults.TaskDecode}:          hang("SystemExit while the task is unpickled inside task_transaction escapes worker_process: the worker exits 2 before its ACK, so handle_worker_expiration finds no task of its own; job 2 is never answered"),
			{exits, faults.TaskRun}:             raised(ErrKindWorkerLost, "process_execute catches Exception, not SystemExit: the worker exits 2 after its ACK, and handle_worker_expiration sets ProcessExpired (code 2) on job 2"),
			{exits, faults.ResultEncode}:        raised(ErrKindWorkerLost, "SystemExit while send_result pickles the result ends the worker (exit code 2) after its ACK: ProcessExpired on job 2"),
			{exits, faults.ResultDecode}:        hang("SystemExit while the message manager unpickles a result ends its thread silently (threading ignores SystemExit): " + pebbleDeadMessagesTail),
			{dies, faults.TaskDecode}:           hang("the worker dies unpickling the task inside task_transaction, holding both channel mutexes (ChannelMutex's reader and writer RLocks, POSIX semaphores nothing releases) and before its ACK: job 2 has no worker_id, so handle_worker_expiration fails nothing, and every other worker blocks on the mutexes (noxdafox/pebble issue 163); with the other worker's job answered, no task is running, so find_expired_task raises BrokenProcessPool(\"All workers expired\") and the pool is in ERROR (the model's strike waits for earlier jobs' results, the side of the workers' race pebble almost always takes)"),
			{dies, faults.TaskRun}:              raised(ErrKindWorkerLost, pebbleExpired),
			{dies, faults.ResultEncode}:         raised(ErrKindWorkerLost, pebbleExpired+"; Connection.send pickles inside WorkerChannel.send's writer mutex, so the dead worker holds it and the jobs after job 2 wait behind it, but the map has raised at job 2 already"),
			{dies, faults.ResultWrite}:          raised(ErrKindWorkerLost, pebbleExpired+"; the message manager holds a torn frame and the writer mutex died with its holder, so the jobs after job 2 are never answered, but the map has raised at job 2 already"),
			{dies, faults.IdleLockWaiter}:       raised(ErrKindBroken, "an idle worker's death with no task running: find_expired_task raises BrokenProcessPool(\"All workers expired\") and pool_manager_loop leaves the pool in ERROR, so the map's schedule raises RuntimeError('Unexpected error within the Pool') (the model's pool manager sees the death before the map: the real one polls every SLEEP_UNIT and may see it after the map's ACKs)"),
			{readerr, faults.ResultDecode}:      hang("a MemoryError reading a result escapes WorkerManager.receive (it catches OSError, TypeError and EOFError): " + pebbleDeadMessagesTail),
			{never, faults.TaskRun}:             hang("the map schedules without a timeout, so update_tasks never stops the worker: a task that never returns is waited for forever"),
			{clean, faults.TaskDecode}:          hang(pebbleExit0 + "; it exits inside task_transaction, holding the channel's reader and writer mutexes, so no other worker takes a task again (noxdafox/pebble issue 163)"),
			{clean, faults.TaskRun}:             hang(pebbleExit0),
			{clean, faults.ResultEncode}:        hang(pebbleExit0 + "; it exits while it pickles the result inside the writer mutex (WorkerChannel.send), so no other worker's result or ACK goes out again"),
			{stops, faults.TaskDecode}:          hang(pebbleStopped + "; it stopped inside task_transaction, holding the channel's mutexes, so no other worker takes a task either"),
			{stops, faults.TaskRun}:             hang(pebbleStopped),
			{stops, faults.ResultEncode}:        hang(pebbleStopped + "; it stopped inside the writer mutex, so no other worker's result goes out either"),
			{stops, faults.ResultWrite}:         hang(pebbleStopped + "; it stopped half-way through job 2's result frame, and the message manager waits for the rest of it"),
			{conts, faults.TaskDecode}:          done(pebbleStopped + "; it stopped inside task_transaction, holding the channel's mutexes, so no other worker takes a task meanwhile; once continued, it sends its ACK, releases them and runs job 2: a late answer" + lateNote),
			{conts, faults.TaskRun}:             done(pebbleStopped + "; once continued, the function returns and the worker sends job 2's result: a late answer" + lateNote),
			{conts, faults.ResultEncode}:        done(pebbleStopped + "; it stopped inside the writer mutex, so no other result goes out meanwhile; once continued, it sends job 2's result and releases the mutex: a late answer" + lateNote),
			{conts, faults.ResultWrite}:         done(pebbleStopped + "; the message manager waits for the rest of job 2's frame; once continued, the worker writes it: a late answer" + lateNote),
			{ctrlC, faults.TaskDecode}:          raised(ErrKindInterrupted, pebbleCtrlC),
			{ctrlC, faults.TaskRun}:             raised(ErrKindInterrupted, pebbleCtrlC),
			{ctrlC, faults.ResultEncode}:        raised(ErrKindInterrupted, pebbleCtrlC),
			{outsized, faults.TaskRun}:          done("pebble's message manager thread reads every result from the channel as it comes, whatever the caller does, so the worker's 1 MiB result drains while the caller is in close() and join()"),
			{parentDies, faults.TaskRun}:        exitedAll("each pebble worker closes the channel ends it does not use (WorkerChannel.initialize): once the parent is gone its read of the channel ends with EOF, or its write fails, and worker_process ends"),
			{blocksAtStart, faults.WorkerStart}: hang("both workers block at their start on the lock they inherited held, before they poll the channel: they are alive, so inspect_workers sees no expiry, and the map has no timeout"),
		},
	})
}

const (
	pebbleDeadScheduler = "WorkerManager.dispatch lets only PicklingError and TypeError become the task's problem; the error escapes task_scheduler_loop, which catches only BrokenProcessPool, so the scheduler thread dies with job 2 registered and the jobs after it never sent"
	pebbleDeadMessages  = "an error unpickling a result escapes WorkerManager.receive (it catches OSError, TypeError and EOFError) and kills message_manager_loop's thread: " + pebbleDeadMessagesTail
	// The pool manager goes on, and the workers too, but nothing reads
	// a message again.
	pebbleDeadMessagesTail = "no ACK or result is read again, so job 2 and every later job are never answered"
	pebbleExpired          = "the worker dies after its ACK was handled: inspect_workers reports it (exit code not 0), handle_worker_expiration finds the task by its worker_id and task_done sets ProcessExpired on job 2 alone, and create_workers replaces the worker; the map raises it"
)

// pebbleNeverHangs: a fault after the ACK and outside the channel
// mutexes never hangs the pool: an error or SystemExit in the function
// or while the result is pickled (the with statement releases the writer
// mutex), a death while the function runs (ProcessExpired, the worker
// replaced), or an idle death (ERROR before any schedule). Everything else
// may: a task lost before its ACK, a dead scheduler or message manager, a
// death holding a mutex (the other workers' results wait behind it, and
// which of them wait is a race), a task that never returns; and so may
// every scenario with an initializer that raises.
func pebbleNeverHangs(sc Scenario) bool {
	if sc.Initializer != "" {
		return false // no task ever runs: the initializer section's hang
	}
	return noFault(sc, func(k faults.Kind, f Fault) bool {
		switch {
		case f.Phase == faults.TaskRun:
			return k.Effect != raises && k.Effect != exits && k.Effect != dies
		case f.Phase == faults.ResultEncode:
			return k.Effect != raises && k.Effect != exits
		case f.Phase == faults.IdleLockWaiter:
			return k.Effect != dies
		}
		return true
	})
}

const (
	// pebbleExit0: inspect_workers collects only workers that are not
	// alive with an exit code other than 0 (pebble/pool/process.py).
	pebbleExit0 = "the worker exits with code 0 holding job 2: WorkerManager.inspect_workers treats exit code 0 as a retirement (it skips `worker.exitcode == 0`), so handle_worker_expiration never fails the task and job 2 is never answered"
	// pebbleStopped: only a task timeout (schedule(timeout=)) stops a
	// worker, and the map runs without one, as py:pebble's cells do.
	pebbleStopped = "the worker is stopped (state T) holding job 2: it neither runs nor dies, so inspect_workers sees no expiry, and the map has no timeout for update_tasks to enforce"
	// pebbleCtrlC: worker_process ignores SIGINT; Future.result is
	// Condition.wait, which a signal interrupts on Python 3.
	pebbleCtrlC = "worker_process starts with `signal(SIGINT, SIG_IGN)`, so the workers go on; the caller's wait on the map's futures is Condition.wait, which a SIGINT interrupts on Python 3: it gets KeyboardInterrupt at once and map delivers no job"
)

// pebble in the callback section (pebble 5.0: schedule, then
// Future.add_done_callback): TaskManager.task_done sets the result on a
// concurrent.futures Future (pebble.common.ProcessFuture), whose
// _invoke_callbacks runs the done-callbacks after set_result.
func init() {
	expectSection("callback", pools.Pebble, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, "worker_process catches the error and sends it as job 2's Result; task_done calls future.set_exception, "+
			"and _invoke_callbacks runs its done-callback; the pool goes on"),
		{dies, faults.TaskRun}:        raised(ErrKindWorkerLost, pebbleExpired+"; its done-callback runs with it, and the other jobs are other futures, answered"),
		{raises, faults.ResultDecode}: hang(pebbleDeadMessages),
		{raises, faults.Callback}: raised(ErrKindCallback, "CPython 3.11's Future._invoke_callbacks catches Exception around each done-callback and logs it "+
			"(LOGGER.exception('exception calling callback for %r')); job 2's result was set before, and the message manager goes on: "+
			"only the caller's record of job 2 carries its callback's error"),
	})
}
