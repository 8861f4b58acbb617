package scenarios

import (
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
	expectSection("terminate", pools.Pebble, map[When]Expectation{
		{dies, faults.TaskRun}: raised(ErrKindWorkerLost, pebbleExpired+"; the get raises it at job 2 and gives up"+stops+neverSet),
		{dies, faults.ResultWrite}: raised(ErrKindWorkerLost, pebbleExpired+"; the get raises it at job 2 and gives up"+stops+
			": the other worker, blocked on the writer mutex the dead one held, dies of stop_process's SIGTERM, and the message manager, "+
			"in recv on the torn frame, reads the end of file once no writer is left (WorkerManager.receive: `except EOFError`)"+neverSet),
		{never, faults.TaskRun}: raised(ErrKindTerminated, "the map has no timeout, so update_tasks never stops the worker and the get is proven stuck on job 2 and gives up"+stops+
			": close_channels gives the idle worker the end of file (worker_process: `except EOFError: os._exit(0)`) and stop_process SIGTERMs the stuck one; "+
			"job 2 is never set (terminated)"),
	})
}
