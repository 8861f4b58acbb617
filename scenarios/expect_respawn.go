package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// respawn: CPython 3.11 multiprocessing.Pool, which replaces dead workers.
// It may hang on anything: a replacement never takes a lost job.
func init() {
	expect(StrategyExpectations{
		Strategy: pools.Respawn, File: expectFile(pools.Respawn), NeverHangs: mayHangOnAnything,
		Cells: map[When]Expectation{
			{raises, faults.TaskEncode}:         raised(ErrKindEncode, "3.x's task handler catches Exception while putting a task and sets it as job 2's error"+mapRaises3x),
			{raises, faults.TaskDecode}:         hang("the decoding error escapes the worker loop: the worker dies with job 2, and its replacement never saw the job"),
			{raises, faults.TaskRun}:            raised(ErrKindTask, "the worker catches Exception around the call and sends the error as job 2's result"+mapRaises3x),
			{raises, faults.ResultEncode}:       raised(ErrKindEncode, "3.x wraps the encoding error (MaybeEncodingError) and sends it as job 2's result"+mapRaises3x),
			{raises, faults.ResultDecode}:       hang(deadRead),
			{exits, faults.TaskDecode}:          hang("SystemExit escapes the worker loop: " + lostJob27),
			{exits, faults.TaskRun}:             hang("the worker catches only Exception: " + lostJob27),
			{exits, faults.ResultEncode}:        hang("SystemExit escapes the MaybeEncodingError guard: " + lostJob27),
			{exits, faults.ResultDecode}:        hang("SystemExit ends the result handler thread silently; no result is read again"),
			{dies, faults.TaskDecode}:           hang(lostJob27),
			{dies, faults.TaskRun}:              hang(lostJob27),
			{dies, faults.ResultEncode}:         hang("the worker dies while it encodes job 2's result, before any byte is written: " + lostJob27),
			{dies, faults.ResultWrite}:          hang(tornFrame + "; " + lostJob27),
			{dies, faults.IdleLockHolder}:       hang(deadLock + "; the replacement blocks on it too"),
			{dies, faults.IdleLockWaiter}:       done("the dead idle worker held nothing and is replaced; no job was lost"),
			{readerr, faults.ResultDecode}:      hang("the MemoryError escapes the result handler's get(): the thread dies silently"),
			{clean, faults.TaskDecode}:          hang(exit0Replaced),
			{clean, faults.TaskRun}:             hang(exit0Replaced),
			{clean, faults.ResultEncode}:        hang(exit0Replaced),
			{stops, faults.TaskDecode}:          hang(stoppedAlive + "; " + stoppedNotReplaced),
			{stops, faults.TaskRun}:             hang(stoppedAlive + "; " + stoppedNotReplaced),
			{stops, faults.ResultEncode}:        hang(stoppedAlive + "; " + stoppedNotReplaced),
			{stops, faults.ResultWrite}:         hang("the worker stops after writing part of job 2's result frame, holding the result write lock: the result handler waits for the rest of the frame; " + stoppedNotReplaced),
			{stops, faults.IdleLockHolder}:      hang(stoppedLock + "; its exitcode is None, so _maintain_pool starts no replacement"),
			{conts, faults.TaskDecode}:          done(stoppedNotReplaced + "; once continued, the worker decodes job 2 and runs it: a late answer" + lateNote),
			{conts, faults.TaskRun}:             done(stoppedNotReplaced + "; once continued, worker() returns from the call and put()s job 2's result, which _handle_results delivers: a late answer" + lateNote),
			{conts, faults.ResultEncode}:        done(stoppedNotReplaced + "; once continued, put() sends job 2's result: a late answer" + lateNote),
			{conts, faults.ResultWrite}:         done("the result handler waits for the rest of job 2's frame, behind the result write lock the stopped worker holds; " + stoppedNotReplaced + "; once continued, the worker writes the rest: a late answer" + lateNote),
			{conts, faults.IdleLockHolder}:      done(stoppedLock + "; its exitcode is None, so _maintain_pool starts no replacement; once continued, its read goes on and every job is answered" + lateNote),
			{ctrlC, faults.TaskDecode}:          raised(ErrKindInterrupted, ctrlC3x),
			{ctrlC, faults.TaskRun}:             raised(ErrKindInterrupted, ctrlC3x),
			{ctrlC, faults.ResultEncode}:        raised(ErrKindInterrupted, ctrlC3x),
			{never, faults.TaskRun}:             hang("nothing bounds a task's time: the caller waits for job 2 forever"),
			{outsized, faults.TaskRun}:          done(drainsJoin3x),
			{parentDies, faults.TaskRun}:        exitedAll(parentDied3x),
			{blocksAtStart, faults.WorkerStart}: hang(heldLock3x),
		},
	})
}

const (
	// ctrlC3x: the caller's side decides the verdict.
	ctrlC3x = "Pool.map waits in ApplyResult.wait -> threading.Event.wait -> Condition.wait -> lock.acquire(), which a signal interrupts on POSIX since 3.2: the caller gets KeyboardInterrupt at once, and map delivers no job. Meanwhile KeyboardInterrupt escapes every worker (`except Exception` around the call, `except (EOFError, OSError)` around get()): they end with code 1, _maintain_pool replaces them, and job 2 is lost with its worker (bpo 8296's hang is what a later join() would see)"
	// stoppedNotReplaced: 3.11 _join_exited_workers tests exitcode, which
	// a stopped process does not have.
	stoppedNotReplaced = "_join_exited_workers (3.11) replaces only workers whose exitcode is not None, and a stopped one has none: job 2 stays with it, and 3.11's Pool has no per-task timeout (AsyncResult.get(timeout) bounds only the caller's own wait)"
	// exit0Replaced: 3.11 Pool._join_exited_workers tests only
	// `worker.exitcode is not None`.
	exit0Replaced = "_handle_workers -> _maintain_pool -> _join_exited_workers (3.11) replaces every worker whose exitcode is not None, 0 included, just as it replaces one retired by maxtasksperchild: the exit(0) is taken for a retirement, and job 2, held by it, is lost (the cache never empties)"
	lostJob27     = "the worker is replaced but job 2 is lost with it: the cache never empties (the seed: 2.7's respawn does not help)"
	// respawn's map is 3.x's MapResult: ready once every chunk is in;
	// map raises the first error, so every job of the map carries it.
	mapRaises3x = "; map raises it once every chunk is in (3.x MapResult._set: \"only consider the result ready once all jobs are done\")"
)
