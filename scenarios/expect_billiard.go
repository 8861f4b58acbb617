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
