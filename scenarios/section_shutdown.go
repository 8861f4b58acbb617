package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

func init() {
	const follow = "ProcessPoolExecutor.shutdown (3.11) sets _shutdown_thread (and _cancel_pending_futures) and wakes " +
		"the manager; the manager, when it next wakes in run(), calls flag_executor_shutting_down (which cancels every " +
		"future not yet running) and, once nothing is pending, join_executor_internals (a sentinel per worker, then " +
		"join). A manager blocked in recv on a torn frame never wakes for it, and shutdown(wait=True) joins it forever; on Debian's " +
		"3.11.2 a manager joining a feeder blocked writing a large task when a worker died (python/cpython issue 94777, fixed by " +
		"PR 94784, which the model follows) hangs shutdown(wait=True) the same way. "
	DefineSection(Section{
		Name: "shutdown", Order: 11,
		Title: "shutdown(wait=True): get with a timeout, then shutdown",
		Doc: "The caller submits each job, waits with result() until every one is answered or the wait is proven stuck, " +
			"then calls shutdown(wait=True), which joins the manager thread, then collects every future. " + follow +
			"Real pools: ProcessPoolExecutor and loky shutdown(wait=True).",
		Rows:  endingRows,
		Shape: shapeWait(WaitShutdown),
		NA:    func(p pools.Strategy) string { return WaitNA(p, WaitShutdown) },
	})
	DefineSection(Section{
		Name: "shutdown-cancel", Order: 12,
		Title: "shutdown(wait=False, cancel_futures=True): get with a timeout, cancel, collect",
		Doc: "As shutdown, but shutdown(wait=False, cancel_futures=True): it returns at once, and the caller then collects " +
			"every future (a cancelled one raises CancelledError: `cancelled`). " + follow +
			"A future is running, and refuses cancel(), from the moment add_call_item_to_queue puts it on the call queue " +
			"(max_workers + EXTRA_QUEUED_CALLS deep). Real pools: ProcessPoolExecutor shutdown(wait=False, " +
			"cancel_futures=True); loky 3.3's shutdown has no cancel_futures (n/a).",
		Rows:  endingRows,
		Shape: shapeWait(WaitShutdownCancel),
		NA:    func(p pools.Strategy) string { return WaitNA(p, WaitShutdownCancel) },
	})
	const (
		broke    = "the death breaks the pool (terminate_broken) before the get gives up: every pending job fails; shutdown then finds the manager gone"
		idleDied = "an idle worker's death breaks the pool before the jobs are submitted: every submit fails; shutdown finds the manager gone"
		recvTorn = "the manager is blocked in recv on the frame the dead worker tore (wait_result_broken_or_wakeup), so it never wakes for the shutdown: "
	)
	expectSection("shutdown", pools.FailFast, map[When]Expectation{
		{dies, faults.TaskRun}:        raised(ErrKindBroken, broke),
		{dies, faults.IdleLockHolder}: raised(ErrKindBroken, idleDied),
		{dies, faults.ResultWrite}:    hang(recvTorn + "shutdown(wait=True)'s self._executor_manager_thread.join() waits forever"),
		{never, faults.TaskRun}:       hang("job 2 stays in pending_work_items, so the manager never reaches join_executor_internals; shutdown(wait=True) joins it forever"),
	})
	expectSection("shutdown-cancel", pools.FailFast, map[When]Expectation{
		{dies, faults.TaskRun}:        raised(ErrKindBroken, broke+"; nothing is left to cancel"),
		{dies, faults.IdleLockHolder}: raised(ErrKindBroken, idleDied),
		{dies, faults.ResultWrite}:    hang(recvTorn + "nothing is cancelled, and result() on job 2 waits forever"),
		{never, faults.TaskRun}:       hang("job 2 is running, so future.cancel() refuses it in flag_executor_shutting_down; shutdown(wait=False) returns and result() on job 2 waits forever"),
	})
	tracked := func(how string) map[When]Expectation {
		lost := "job 2 is answered WorkerLost before the get gives up; " + how
		return map[When]Expectation{
			{dies, faults.TaskRun}:     raised(ErrKindWorkerLost, lost),
			{dies, faults.ResultWrite}: raised(ErrKindWorkerLost, lost),
			{never, faults.TaskRun}:    raised(ErrKindDeadline, "job 2 is answered at its deadline before the get gives up; "+how),
		}
	}
	expectSection("shutdown", pools.Tracked, tracked("shutdown(wait=True) is Close then Join, which wait on nothing a death can keep"))
	expectSection("shutdown-cancel", pools.Tracked, tracked("shutdown(wait=False, cancel_futures=True) cancels the jobs not yet assigned (none are left) and returns"))
}
