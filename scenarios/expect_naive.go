package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// naive: CPython 2.6 multiprocessing.Pool (Lib/multiprocessing/pool.py of 2.6).
// It may hang on anything: it never answers a lost job.
func init() {
	expect(StrategyExpectations{
		Strategy: pools.Naive, File: expectFile(pools.Naive), NeverHangs: mayHangOnAnything,
		Cells: map[When]Expectation{
			{raises, faults.TaskEncode}:         hang("2.6's task handler catches only IOError: the encoding error kills it, and jobs 2 to 5 are never sent"),
			{raises, faults.TaskDecode}:         hang("the worker catches only EOFError/IOError around get(): the decoding error ends it holding job 2, and 2.6 never answers the job"),
			{raises, faults.TaskRun}:            raised(ErrKindTask, "the worker catches Exception around the call and sends the error as job 2's result"+mapRaises26),
			{raises, faults.ResultEncode}:       hang("2.6 does not guard put(): the encoding error ends the worker before job 2's result is sent"),
			{raises, faults.ResultDecode}:       hang(deadRead),
			{exits, faults.TaskDecode}:          hang("SystemExit is no Exception: the worker exits with job 2, which nothing answers"),
			{exits, faults.TaskRun}:             hang("the worker catches only Exception: sys.exit ends it holding job 2, which nothing answers"),
			{exits, faults.ResultEncode}:        hang("SystemExit escapes put(): the worker exits before job 2's result is sent"),
			{exits, faults.ResultDecode}:        hang("SystemExit ends the result handler thread silently; no result is read again"),
			{dies, faults.TaskDecode}:           hang(lostJob + " (2.6 decodes inside the read lock, so that lock dies too)"),
			{dies, faults.TaskRun}:              hang(lostJob + " (the seed's case)"),
			{dies, faults.ResultEncode}:         hang("the worker dies while it encodes job 2's result, before any byte is written: " + lostJob),
			{dies, faults.ResultWrite}:          hang(tornFrame + ", and nothing answers job 2"),
			{dies, faults.IdleLockHolder}:       hang(deadLock),
			{dies, faults.IdleLockWaiter}:       done(idleDies),
			{readerr, faults.ResultDecode}:      hang("the MemoryError escapes the result handler's get(): the thread dies silently (the seed's second incident)"),
			{clean, faults.TaskDecode}:          hang(exit0Unseen + " (2.6 decodes inside the read lock, so that lock dies too)"),
			{clean, faults.TaskRun}:             hang(exit0Unseen),
			{clean, faults.ResultEncode}:        hang(exit0Unseen),
			{stops, faults.TaskDecode}:          hang(stoppedAlive + "; 2.6 decodes inside the read lock, so it holds job 2 and the read lock, and the other worker blocks on the lock"),
			{stops, faults.TaskRun}:             hang(stoppedAlive + "; nothing bounds a task's time in 2.6: the caller waits for job 2 forever"),
			{stops, faults.ResultEncode}:        hang(stoppedAlive + "; job 2's result is never sent, and nothing bounds a task's time in 2.6"),
			{stops, faults.ResultWrite}:         hang("the worker stops after writing part of job 2's result frame, holding the result write lock: the result handler waits for the rest of a frame only the stopped worker could write"),
			{stops, faults.IdleLockHolder}:      hang(stoppedLock),
			{conts, faults.TaskDecode}:          done("2.6 decodes inside the read lock, so the stopped worker holds job 2 and the read lock, and the other worker blocks on the lock; 2.6 looks at no worker's liveness or time, so nothing gives up on it, and once continued it decodes, releases the lock (get: rrelease()) and runs job 2: a late answer" + lateNote),
			{conts, faults.TaskRun}:             done("nothing in 2.6's Pool bounds a task's time or watches its workers, so the caller waits; once continued, worker() returns from the call and put()s job 2's result, which _handle_results delivers: a late answer" + lateNote),
			{conts, faults.ResultEncode}:        done("job 2's result is not yet sent, and nothing bounds a task's time in 2.6; once continued, put() sends it: a late answer" + lateNote),
			{conts, faults.ResultWrite}:         done("the result handler waits in recv for the rest of job 2's frame, behind the result write lock the stopped worker holds; once continued, the worker writes the rest and releases the lock: a late answer" + lateNote),
			{conts, faults.IdleLockHolder}:      done(stoppedLock + "; once continued, the worker's read goes on, takes a task and releases the lock, and every job is answered" + lateNote),
			{ctrlC, faults.TaskDecode}:          hang(ctrlC26),
			{ctrlC, faults.TaskRun}:             hang(ctrlC26),
			{ctrlC, faults.ResultEncode}:        hang(ctrlC26),
			{never, faults.TaskRun}:             hang("nothing bounds a task's time: the caller waits for job 2 forever"),
			{outsized, faults.TaskRun}:          done(drainsJoin26),
			{parentDies, faults.TaskRun}:        exitedAll(parentDied26),
			{blocksAtStart, faults.WorkerStart}: hang(heldLock26),
		},
	})
}

const (
	// ctrlC26: bpo 8296, "Pool hangs when issuing KeyboardInterrupt".
	ctrlC26 = "2.6's worker guards get() with `except (EOFError, IOError)` and the call with `except Exception`, and KeyboardInterrupt is neither: every worker, the one holding job 2 too, ends with code 1 (its finally releases the read lock), and 2.6 replaces none. The caller waits in Condition.wait() without a timeout, a lock acquire that Python 2 retries on EINTR: the Ctrl-C never reaches it, and it waits for job 2 forever (bpo 8296)"
	// exit0Unseen: 2.6 has no _handle_workers; the code is never read.
	exit0Unseen = "2.6's Pool never looks at a worker after starting it (no worker handler; only join reaps): the exit(0) goes unseen like any death, and job 2, held by the exited worker, is never answered"
	lostJob     = "the worker dies holding job 2; nothing answers it, so the cache never empties and the caller waits forever"
	idleDies    = "an idle worker that held nothing dies; the other worker does every job"
	// naive's map is 2.6's MapResult: ready at the first failed chunk.
	// Map raises the first error, so every job of the map carries it.
	mapRaises26 = "; map raises it: 2.6's MapResult._set makes the map ready at its first failed chunk"
)
