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
			{never, faults.TaskRun}:             hang("nothing bounds a task's time: the caller waits for job 2 forever"),
			{outsized, faults.TaskRun}:          done(drainsJoin3x),
			{parentDies, faults.TaskRun}:        exitedAll(parentDied3x),
			{blocksAtStart, faults.WorkerStart}: hang(heldLock3x),
		},
	})
}

const (
	lostJob27 = "the worker is replaced but job 2 is lost with it: the cache never empties (the seed: 2.7's respawn does not help)"
	// respawn's map is 3.x's MapResult: ready once every chunk is in;
	// map raises the first error, so every job of the map carries it.
	mapRaises3x = "; map raises it once every chunk is in (3.x MapResult._set: \"only consider the result ready once all jobs are done\")"
)
