package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// endingRows are the rows where how the caller ends the pool matters: a
// death that loses a job, a dead holder of the task read lock, a death
// mid-frame holding the result write lock, and a task that never returns.
var endingRows = []Row{
	{"sigkill", faults.TaskRun}, {"segfault", faults.TaskRun},
	{"segfault", faults.IdleLockHolder}, {"sigkill", faults.ResultWrite},
	{"stuck", faults.TaskRun},
}

// shapeWait gives the standard scenario the wait style w.
func shapeWait(w WaitStyle) func(Scenario) Scenario {
	return func(sc Scenario) Scenario { sc.Wait = w; return sc }
}

func init() {
	DefineSection(Section{
		Name: "terminate", Order: 10,
		Title: "terminate(): get with a timeout, then terminate()",
		Doc: "The caller submits each job (apply_async), waits for them with get() until every one is answered or the wait " +
			"is proven stuck (what a get(timeout) that expires stands for), then calls terminate(). multiprocessing.Pool.terminate " +
			"runs _terminate_pool: it tells the handlers to stop, then _help_stuff_finish takes the task queue's read lock " +
			"(inqueue._rlock.acquire()), asserts that the result handler is alive or nothing is pending, puts the result " +
			"handler's sentinel (outqueue.put(None), under the result queue's write lock), SIGTERMs the workers and joins " +
			"the handlers and workers (python/cpython issues 96062, 78178). A job unanswered when terminate() returns is " +
			"`terminated`: CPython never sets it. Real pools: mp.Pool and billiard terminate(), pebble stop() then join(), " +
			"loky shutdown(wait=True, kill_workers=True).",
		Rows:  endingRows,
		Shape: shapeWait(WaitTerminate),
		NA:    func(p pools.Strategy) string { return WaitNA(p, WaitTerminate) },
	})
	const (
		helps = "the task handler, told to stop, still sends a sentinel per worker (_handle_tasks after its loop); " +
			"the idle worker holding the read lock reads one and exits, so _help_stuff_finish gets the lock; the result " +
			"handler is still in its `while cache` loop, so the assert passes; terminate SIGTERMs the rest and returns"
		neverSet  = "; job 2's result is never set (terminated)"
		stuckLock = "_help_stuff_finish waits for the task queue's read lock (inqueue._rlock.acquire()) held by the dead " +
			"worker, forever (python/cpython issues 96062, 78178): terminate() never returns"
		midFrame = "the dead worker holds the result queue's write lock: the task handler's outqueue.put(None) waits for it " +
			"forever, so no worker gets a sentinel and an idle one keeps the read lock; _help_stuff_finish, or terminate's " +
			"own outqueue.put(None) if it got the read lock, waits forever"
		killsStuck = "the stuck worker never reads its sentinel, but terminate's p.terminate() SIGTERMs it" + neverSet
	)
	pool := func(version string) map[When]Expectation {
		return map[When]Expectation{
			{dies, faults.TaskRun}:        raised(ErrKindTerminated, version+": "+helps+neverSet),
			{dies, faults.IdleLockHolder}: hang(version + ": " + stuckLock),
			{dies, faults.ResultWrite}:    hang(version + ": " + midFrame),
			{never, faults.TaskRun}:       raised(ErrKindTerminated, version+": "+killsStuck),
		}
	}
	expectSection("terminate", pools.Naive, pool("2.6 _terminate_pool"))
	expectSection("terminate", pools.Respawn, pool("3.11 _terminate_pool"))
	expectSection("terminate", pools.Tracked, map[When]Expectation{
		{dies, faults.TaskRun}:     raised(ErrKindWorkerLost, "job 2 is answered WorkerLost before the get gives up; terminate() (Terminate) takes no lock and kills every worker"),
		{dies, faults.ResultWrite}: raised(ErrKindWorkerLost, "job 2 is answered WorkerLost before the get gives up; terminate() takes no lock and kills every worker"),
		{never, faults.TaskRun}:    raised(ErrKindDeadline, "job 2 is answered at its deadline before the get gives up; terminate() kills every worker"),
	})
}
