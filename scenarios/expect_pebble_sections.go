package scenarios

import (
	"strings"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// pebble in the terminate section. A pebble program ends a pool at once
// with stop() then join() (pebble 5.0 BasePool.stop, BasePool.join,
// ProcessPool._stop_pool, PoolManager.stop; pools.pebblePool.CallTerminate):
// join waits for the pool manager's loop to end, closes the channels,
// stops every worker without the channel lock (stop_worker(force=True):
// stop_process, SIGTERM then SIGKILL), then joins the other two threads.
// None of it takes a lock a worker can hold, and none of it sets a
// pending future: what is unanswered when join() returns is terminated.
// The idle-lock-holder row is n/a: pebble's idle workers hold no lock.
func init() {
	const (
		stops = "; stop() then join(): _stop_pool joins pool_manager_loop, which ends at its next turn (context.alive is false), " +
			"PoolManager.stop closes the channels and stop_workers stops every worker with stop_worker(force=True), which takes no lock, " +
			"and the other loops end, so join() returns"
		neverSet = "; pebble 5.0's stop path sets no pending future, so the jobs not yet answered are terminated"
	)
	// pebbleExpired without its map: here the caller gets each job.
	expired := strings.TrimSuffix(pebbleExpired, "; the map raises it")
	expectSection("terminate", pools.Pebble, map[When]Expectation{
		{dies, faults.TaskRun}: raised(ErrKindWorkerLost, expired+"; the get collects it and every other answer (the replacement runs the rest)"+stops),
		{dies, faults.ResultWrite}: raisedAll([]string{ErrKindWorkerLost, ErrKindTerminated}, expired+"; the dead worker held the writer mutex (WorkerChannel.send), so the other worker's ACK or result waits for it "+
			"and the get is proven stuck on job 3 and gives up"+stops+
			": the worker blocked on the writer mutex dies of stop_process's SIGTERM, and the message manager, in recv on the torn frame, "+
			"reads the end of file once no writer is left (WorkerManager.receive: `except EOFError`)"+neverSet),
		{never, faults.TaskRun}: raised(ErrKindTerminated, "job 2 is scheduled without a timeout, so update_tasks never stops its worker and the get is proven stuck on job 2 and gives up"+stops+
			": close_channels gives the idle worker the end of file (worker_process: `except EOFError: os._exit(0)`) and stop_process SIGTERMs the stuck one; "+
			"job 2 is never set (terminated)"),
	})
}

// pebble in the initializer section (pebble 5.0; pools/pebble_start.go):
// the map's _check_pool_state starts the pool (_start_pool: the workers,
// then the three loops), and the map schedules its six tasks, all within
// the pool manager's first SLEEP_UNIT. Each worker then runs the
// initializer in worker_process: run_initializer catches the error, logs
// it and returns False, and the worker calls os._exit(1) before it polls
// the channel. The pool manager's next update_status finds a worker
// expired with exit code 1; handle_worker_expiration calls
// find_expired_task, and with no task acknowledged (none has a worker_id)
// it raises BrokenProcessPool("All workers expired"), which
// pool_manager_loop turns into ERROR before create_workers replaces
// anyone. message_manager_loop ends on context.alive, task_scheduler_loop
// stays in task_queue.get(), and nothing sets the map's futures again.
func init() {
	expectSection("initializer", pools.Pebble, map[When]Expectation{
		{raises, faults.TaskRun}: hang("each worker dies of the initializer (run_initializer returns False, os._exit(1)) before it takes a task, so no task is acknowledged; " +
			"the pool manager's first inspection of a death finds no running task and find_expired_task raises BrokenProcessPool(\"All workers expired\"): " +
			"pool_manager_loop sets ERROR, the message manager's loop ends, and nothing sets a pending future again, so the map waits forever for job 0 " +
			"(every schedule came before that inspection: the pool starts at the map's _check_pool_state, and the pool manager's next turn is SLEEP_UNIT away)"),
	})
}

// raisedAll expects the call to raise, its jobs failing with the kinds
// in the order their first jobs come.
func raisedAll(kinds []string, why string) Expectation {
	return Expectation{Verdict: Raised, Errors: kinds, Reason: why}
}
