package scenarios

import (
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// ModelGrace is the lost-worker grace the billiard model runs with in
// every scenario (pools.Options.LostWorkerTimeout): billiard's own
// LOST_WORKER_TIMEOUT is 10 s (the real column waits it out, about 11 s
// a cell), which would make the matrix and the searches wait 10 s for
// every lost worker. The verdict is the same; only the time to it is
// shorter.
const ModelGrace = 100 * time.Millisecond

// modelGrace is the grace a model pool starts with: ModelGrace where the
// strategy takes one, else none.
func modelGrace(s pools.Strategy) time.Duration {
	if s.Supports(pools.OptionLostWorkerTimeout) {
		return ModelGrace
	}
	return 0
}

// billiard: Celery's billiard.Pool 4.1 (billiard/pool.py), modelled with a
// 100 ms lost-worker grace (ModelGrace). In the standard map of 6 jobs
// the map is one MapResult: one cache entry, whose worker_pids are every
// pid that acknowledged any of its chunks.
func init() {
	expect(StrategyExpectations{
		Strategy: pools.Billiard, File: expectFile(pools.Billiard), NeverHangs: mayHangOnAnything,
		Cells: map[When]Expectation{
			{raises, faults.TaskEncode}:         hang("TaskHandler.body's `except Exception` does `job, ind = task[:2]` on the message (TASK, (job, i, ...)): the error goes to cache[TASK], cache[2], which is no call of this pool (the map is job 0), KeyError is swallowed, and job 2's task is dropped: the map never completes"),
			{raises, faults.TaskDecode}:         raised(ErrKindWorkerLost, "the unpickling error escapes Worker._make_protected_receive (it catches only EOFError/IOError) and the worker exits before it acknowledges job 2; but it had acknowledged an earlier chunk of the same map, so _join_exited_workers finds the map's worker_pids include a gone pid and marks it lost; after the grace (ModelGrace, 100 ms; billiard's LOST_WORKER_TIMEOUT is 10 s) mark_as_worker_lost fails the map with WorkerLostError"+firstChunks+billiardMapFails),
			{raises, faults.TaskRun}:            raised(ErrKindTask, "Worker.workloop catches Exception around the call and sends the error as job 2's READY"+billiardMapFails),
			{raises, faults.ResultEncode}:       raised(ErrKindEncode, "Worker.workloop wraps the pickling error in MaybeEncodingError and sends that as job 2's READY"+billiardMapFails),
			{raises, faults.ResultDecode}:       hang("the unpickling error escapes ResultHandler._process_result (it catches IOError/EOFError); body's `finally: finish_at_shutdown()` reads on while the cache is not empty, but job 2's READY was the message that failed: the map never completes"),
			{exits, faults.TaskDecode}:          raised(ErrKindWorkerLost, "SystemExit escapes the worker's receive: it exits before it acknowledges job 2, but it had acknowledged an earlier chunk of the map; after the grace the map fails with WorkerLostError"+firstChunks),
			{exits, faults.TaskRun}:             raised(ErrKindWorkerLost, "Worker.workloop catches only Exception: SystemExit ends the worker, which had acknowledged job 2; after the grace the map fails with WorkerLostError"),
			{exits, faults.ResultEncode}:        raised(ErrKindWorkerLost, "SystemExit escapes the MaybeEncodingError guard (`except Exception`) and ends the worker, which had acknowledged job 2: WorkerLostError after the grace"),
			{exits, faults.ResultDecode}:        hang("SystemExit escapes _process_result like any error; finish_at_shutdown reads on, but job 2's READY is gone: the map never completes"),
			{dies, faults.TaskDecode}:           raised(ErrKindWorkerLost, "the worker dies before it acknowledges job 2, but it had acknowledged an earlier chunk of the same map (MapResult.worker_pids): after the grace the map fails with WorkerLostError"+firstChunks),
			{dies, faults.TaskRun}:              raised(ErrKindWorkerLost, billiardLost),
			{dies, faults.ResultEncode}:         raised(ErrKindWorkerLost, billiardLost),
			{dies, faults.ResultWrite}:          raised(ErrKindWorkerLost, "the worker dies mid-frame holding the result write lock: the result handler blocks on the torn frame, but the worker handler (the Supervisor thread, not the result handler) runs _join_exited_workers, and after the grace the map fails with WorkerLostError"),
			{dies, faults.IdleLockHolder}:       hang(deadLock + "; billiard's worker reads under SimpleQueue.get_payload's read lock too, and the replacement blocks on it"),
			{dies, faults.IdleLockWaiter}:       done("the dead idle worker held nothing and acknowledged nothing; it is replaced and every job completes"),
			{readerr, faults.ResultDecode}:      hang("the MemoryError escapes _process_result; finish_at_shutdown reads the body left in the pipe as the next message and fails again, and PoolThread.run calls os._exit(1): the real parent exits; the model's result handler dies and the caller is never answered"),
			{never, faults.TaskRun}:             hang("the pool has no timeout: billiard's soft and hard time limits (TimeoutHandler) exist only when Pool(timeout=...) or soft_timeout is set, and the standard pool sets none"),
			{outsized, faults.TaskRun}:          done("billiard's ResultHandler reads results on its own thread, and after close() it reads on while the cache is not empty (finish_at_shutdown): the worker's 1 MiB result drains while the caller is in join()"),
			{parentDies, faults.TaskRun}:        exitedAll("billiard's Worker keeps only its ends of the queues (like CPython's worker, it closes inqueue's writer and outqueue's reader): once the parent is gone its task read ends with EOF and the result write fails, and it exits (the real billiard first retries its messages for about 30 s; the model exits at once)"),
			{blocksAtStart, faults.WorkerStart}: hang("both workers block at their start on the lock they inherited held, before they read a task: they are alive, so _join_exited_workers neither replaces them nor marks anything lost, and no time limit is set"),
			{clean, faults.TaskDecode}:          raised(ErrKindWorkerLost, billiardClean),
			{clean, faults.TaskRun}:             raised(ErrKindWorkerLost, billiardClean),
			{clean, faults.ResultEncode}:        raised(ErrKindWorkerLost, billiardClean),
			{stops, faults.TaskDecode}:          hang(billiardStopped),
			{stops, faults.TaskRun}:             hang(billiardStopped),
			{stops, faults.ResultEncode}:        hang(billiardStopped),
			{stops, faults.ResultWrite}:         hang(billiardStopped + "; and the result handler waits for the rest of job 2's frame, behind the write lock the stopped worker holds"),
			{stops, faults.IdleLockHolder}:      hang("the stopped idle worker holds the task queue's read lock: no other worker can take a task; its exitcode is None, so _join_exited_workers neither replaces it nor marks anything lost"),
			{conts, faults.TaskDecode}:          done(billiardStopped + "; once continued, the worker acknowledges and runs job 2: a late answer" + lateNote),
			{conts, faults.TaskRun}:             done(billiardStopped + "; once continued, Worker.workloop returns from the call and puts job 2's READY: a late answer" + lateNote),
			{conts, faults.ResultEncode}:        done(billiardStopped + "; once continued, the worker sends job 2's READY: a late answer" + lateNote),
			{conts, faults.ResultWrite}:         done(billiardStopped + "; the result handler waits for the rest of job 2's frame, behind the write lock the stopped worker holds; once continued, the worker writes it: a late answer" + lateNote),
			{conts, faults.IdleLockHolder}:      done("the stopped idle worker holds the task queue's read lock, and its exitcode is None, so _join_exited_workers neither replaces it nor marks anything lost; once continued, its read goes on and every job is answered" + lateNote),
			{ctrlC, faults.TaskDecode}:          raised(ErrKindInterrupted, billiardCtrlC),
			{ctrlC, faults.TaskRun}:             raised(ErrKindInterrupted, billiardCtrlC),
			{ctrlC, faults.ResultEncode}:        raised(ErrKindInterrupted, billiardCtrlC),
		},
	})
}

const (
	// firstChunks: which worker took job 2 first decides it; the model
	// paces its workers as CPython's are (pools/billiard.go,
	// letWaiterRead).
	firstChunks  = " (each of the 2 workers takes one of jobs 0 and 1 first, as billiard's CPython workers do)"
	billiardLost = "Worker.workloop acknowledged job 2 (`put((ACK, ...))` before `fun(*args)`); the worker died, _join_exited_workers marks the map lost (on_job_process_lost) and, after the grace (ModelGrace, 100 ms; billiard's LOST_WORKER_TIMEOUT is 10 s), mark_as_worker_lost fails it with WorkerLostError"
	// billiard's MapResult._set: a failed chunk makes the whole map ready
	// with its error at once, as 2.6 does.
	billiardMapFails = "; MapResult._set makes the map ready with it at once"
)

const (
	// billiardClean: Pool._join_exited_workers collects every worker whose
	// exitcode is not None, whatever the code, and marks lost the calls
	// whose worker_pids include it (the real billiard logs "Worker exited
	// prematurely: exitcode 0" and raises WorkerLostError the same way).
	billiardClean = "the worker exits with code 0 holding job 2; _join_exited_workers collects any worker whose exitcode is not None, exit code 0 included, and the map had chunks acknowledged by that pid (MapResult.worker_pids): after the grace mark_as_worker_lost fails the map with WorkerLostError" + billiardMapFails
	// billiardStopped: soft and hard time limits exist only when the
	// pool has a timeout, and the standard pool has none.
	billiardStopped = "the worker is stopped (state T) holding job 2: it neither runs nor dies, so _join_exited_workers never sees it exit, and no time limit applies (billiard kills a task only with soft_timeout/timeout set, which the standard pool does not)"
	// billiardCtrlC: billiard runs on Python 3, whose waits a signal
	// interrupts.
	billiardCtrlC = "MapResult.wait is threading.Event.wait on Python 3, which a SIGINT interrupts: the caller gets KeyboardInterrupt at once and map delivers no job (the workers, whose workloop catches only Exception, die of KeyboardInterrupt)"
)

// billiard in the call-style and option sections (billiard 4.1,
// billiard/pool.py). Every apply_async is its own ApplyResult, with its
// own job id and one acknowledging pid (ApplyResult.worker_pids); a map
// is one MapResult, whose worker_pids are every pid that acknowledged any
// of its chunks.
func init() {
	expectSection("callback", pools.Billiard, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, "Worker.workloop catches Exception and sends the error as job 2's READY; ApplyResult._set sets it, "+
			"sets the event, then calls the error_callback through safe_apply_callback"),
		{dies, faults.TaskRun}: raised(ErrKindWorkerLost, "job 2's ApplyResult was acknowledged by the worker that died (ApplyResult._ack: `self._worker_pid = pid`); "+
			"_join_exited_workers marks it lost and, after the grace (ModelGrace, 100 ms; LOST_WORKER_TIMEOUT is 10 s), mark_as_worker_lost calls "+
			"`job._set(None, (False, ExceptionInfo()))`, which runs its error_callback; the other jobs are other ApplyResults, answered by the other worker and the replacement"),
		{raises, faults.ResultDecode}: hang("the unpickling error escapes ResultHandler._process_result (it catches IOError/EOFError); body's `finally: finish_at_shutdown()` " +
			"reads on while the cache is not empty, but job 2's READY was the message that failed, and its worker is alive, so nothing marks it lost: neither its callback nor get() is ever answered"),
		{raises, faults.Callback}: raised(ErrKindCallback, "billiard's ApplyResult._set sets the event and pops the cache before it applies the callback "+
			"(`# apply callbacks last`), through safe_apply_callback, which catches Exception and logs it ('Pool callback raised exception: %r'): "+
			"job 2 is answered, the result handler goes on, and only the caller's record of job 2 carries its callback's error (unlike CPython's Pool, python/cpython issue 83371)"),
	})
	const chunk = "map(chunksize=3) puts the chunk of jobs 0 to 2 as one TASK of mapstar; "
	expectSection("chunks", pools.Billiard, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, chunk+"mapstar stops at job 2's error, which Worker.workloop sends as the chunk's READY"+billiardMapFails+" (MapResult._set's failure branch), every job of the map with it"),
		{exits, faults.TaskRun}: raised(ErrKindWorkerLost, chunk+"Worker.workloop catches only Exception: SystemExit ends the worker, which had acknowledged the chunk "+
			"(MapResult._ack records its pid for jobs 0 to 2); after the grace mark_as_worker_lost fails the whole map with WorkerLostError"),
		{dies, faults.TaskRun}: raised(ErrKindWorkerLost, chunk+"the worker acknowledged the chunk and died running it; _join_exited_workers finds its pid in MapResult.worker_pids, "+
			"and after the grace mark_as_worker_lost fails the whole map with WorkerLostError"),
		{dies, faults.ResultWrite}: raised(ErrKindWorkerLost, chunk+"the worker dies mid-frame writing the chunk's three values, holding the result write lock: "+
			"the result handler blocks on the torn frame, but the Supervisor thread runs _join_exited_workers, and after the grace the map fails with WorkerLostError"),
	})
}

// billiard's imap (billiard 4.1 Pool.imap, Pool.imap_unordered): one
// IMapIterator, one cache entry, whose worker_pids are every pid that
// acknowledged any of its tasks (IMapIterator._ack); next() raises a
// failed item as `Exception(value)`.
func init() {
	const (
		goesOn = "Worker.workloop catches Exception and sends the error as item 2's READY; next() raises it " +
			"(`raise Exception(value)`: billiard's iterator wraps every error in Exception) and the caller goes on to the next items"
		lost = "the worker acknowledged item 2 (IMapIterator._ack appends its pid to _worker_pids) and died running it; " +
			"_join_exited_workers marks the iterator lost, and after the grace (ModelGrace, 100 ms) mark_as_worker_lost calls " +
			"`job._set(None, (False, ExceptionInfo()))`: "
		decode = "the unpickling error escapes ResultHandler._process_result; finish_at_shutdown reads on, but item 2's READY was the message that failed, " +
			"and its worker is alive, so nothing marks the iterator lost: next() waits for it forever"
		input = "billiard's imap hands the task handler a bare generator (`((TASK, (result._job, i, func, (x,), {})) for i, x in enumerate(iterable))`); " +
			"TaskHandler.body's outer `except Exception` does `job, ind = task[:2]` on the last message produced, `(TASK, (job, 1, ...))`: job is TASK, " +
			"billiard job id 2, no call of this pool (the imap is job 0), so it skips the _set and calls `set_length(i + 1)`: the iteration ends after items 0 and 1, " +
			"the input's exception is dropped, and next() raises StopIteration with items 2 to 5 never produced"
	)
	// endsEarly: next() raises StopIteration before every item is out,
	// and no item failed: the jobs never produced stay unanswered.
	endsEarly := func(why string) Expectation { return Expectation{Verdict: Raised, Reason: why} }
	inOrder := map[When]Expectation{
		{raises, faults.TaskRun}:      raised(ErrKindTask, goesOn),
		{dies, faults.TaskRun}:        hang(lost + "IMapIterator._set files it under `self._unsorted[None]` (`self._index == i` never holds for None), so next() waits for item 2 forever"),
		{raises, faults.ResultDecode}: hang(decode),
		{raises, faults.Input}:        endsEarly(input),
	}
	expectSection("imap", pools.Billiard, inOrder)
	expectSection("imap_unordered", pools.Billiard, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, goesOn),
		{dies, faults.TaskRun}: raised(ErrKindWorkerLost, lost+"IMapUnorderedIterator._set appends it as one more item (`self._index += 1`), "+
			"next() raises it, and with the five other items in, _index reaches the length and the iteration ends"),
		{raises, faults.ResultDecode}: hang(decode),
		{raises, faults.Input}:        endsEarly(input),
	})
	expectSection("imap-chunks", pools.Billiard, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, "mapstar runs the chunk of items 2 and 3 and stops at item 2's error, which is the chunk's READY; "+
			"next() raises it, which ends imap's flattening generator (`(item for chunk in result for item in chunk)`), so items 2 to 5 carry it"),
		{dies, faults.TaskRun}: hang(lost + "IMapIterator._set files it under `self._unsorted[None]`, so next() waits for the chunk of items 2 and 3 forever"),
		{raises, faults.Input}: endsEarly("the input is read through Pool._get_tasks' islice inside the same bare generator: " +
			"the exception at item 2 comes while the second chunk is cut, so only the chunk of items 0 and 1 was produced; " +
			"TaskHandler.body then does as for imap: job TASK (2) is no call of this pool, and set_length(1) ends the iteration after that chunk"),
	})
}

// billiard's terminate() (billiard 4.1 Pool.terminate, Pool._terminate_pool,
// Pool._help_stuff_finish): CPython's steps but for the assertion that the
// result handler is alive, which billiard lacks, and the join of the
// worker handler, which it never makes.
func init() {
	const (
		lostFirst = "job 2 was acknowledged by the worker that died; the caller's get is never proven stuck while the grace is armed, so after the grace " +
			"mark_as_worker_lost fails it with WorkerLostError and every job is answered; then terminate(): the task handler, told to stop, still runs tell_others " +
			"(the result handler's sentinel, a sentinel per worker), the idle worker holding the read lock reads one and exits, so _help_stuff_finish gets the lock, " +
			"and _terminate_pool puts the result sentinel, SIGTERMs the rest and joins (the real pool's get waits out the same grace, 10 s)"
		stuckLock = "the map's jobs wait behind the dead worker's task queue read lock, so the get is proven stuck and gives up; billiard's _help_stuff_finish " +
			"waits for that lock (inqueue._rlock.acquire()) forever: terminate() never returns"
		midFrame = "the result handler waits on the torn frame, so jobs 3 to 5 are never read (job 2 fails with WorkerLostError after the grace) and the get gives up; " +
			"the dead worker holds the result queue's write lock: TaskHandler.tell_others' outqueue.put(None) waits for it forever, so no worker gets a sentinel and an idle one " +
			"keeps the read lock; _help_stuff_finish, or _terminate_pool's own outqueue.put(None) (_set_result_sentinel) if it got the read lock, waits forever"
		stuck = "no time limit is set, so the get is proven stuck on job 2 and gives up; terminate() gets the read lock as in the death rows, and _terminate_pool SIGTERMs " +
			"the stuck worker (`p.terminate()` for every live worker): it returns with job 2 never set (terminated)"
	)
	expectSection("terminate", pools.Billiard, map[When]Expectation{
		{dies, faults.TaskRun}:        raised(ErrKindWorkerLost, lostFirst),
		{dies, faults.IdleLockHolder}: hang(stuckLock),
		{dies, faults.ResultWrite}:    hang(midFrame),
		{never, faults.TaskRun}:       raised(ErrKindTerminated, stuck),
	})
}

func init() {
	expectSection("initializer", pools.Billiard, map[When]Expectation{
		{raises, faults.TaskRun}: {Verdict: Livelock, Reason: "billiard's Worker.__call__ runs after_fork(), which calls the initializer, before its `try`: the error ends the worker " +
			"(exit code 1) before it takes a task, and the Supervisor's _maintain_pool replaces it, forever: the start-up burst's restart_state(10 * processes, 1) " +
			"raises RestartFreqExceeded only at a 21st restart within a second, and its 10 passes 0.1 s apart restart at most 2 workers each; after it the pool's " +
			"restart_state(max_restarts=None) never raises. No job is ever taken"},
	})
}
