package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// tracked: private pipes, no shared lock, the parent knows who holds what.
func init() {
	expect(StrategyExpectations{
		Strategy: pools.Tracked, File: expectFile(pools.Tracked), NeverHangs: trackedNeverHangs,
		Cells: map[When]Expectation{
			{raises, faults.TaskEncode}:         raised(ErrKindEncode, "the encoding error is set on job 2 before it is assigned"),
			{raises, faults.TaskDecode}:         raised(ErrKindTask, "the worker guards decoding too and sends the error as job 2's result"),
			{raises, faults.TaskRun}:            raised(ErrKindTask, "the error is job 2's result; the pool goes on"),
			{raises, faults.ResultEncode}:       raised(ErrKindEncode, "the encoding error is sent as job 2's result"),
			{raises, faults.ResultDecode}:       raised(ErrKindRead, "job 2's result cannot be decoded: that worker's stream is untrusted, so it is killed and replaced and job 2 fails"),
			{exits, faults.TaskDecode}:          raised(ErrKindExit, "the worker catches everything: SystemExit becomes job 2's error"),
			{exits, faults.TaskRun}:             raised(ErrKindExit, "the worker catches everything: SystemExit becomes job 2's error"),
			{exits, faults.ResultEncode}:        raised(ErrKindExit, "the worker catches everything: SystemExit becomes job 2's error"),
			{exits, faults.ResultDecode}:        raised(ErrKindRead, "job 2's result cannot be decoded: that worker is killed and replaced and job 2 fails"),
			{dies, faults.TaskDecode}:           raised(ErrKindWorkerLost, "the parent knows the dead worker held job 2: exactly that job fails with WorkerLost, the worker is replaced"),
			{dies, faults.TaskRun}:              raised(ErrKindWorkerLost, "the parent knows the dead worker held job 2: exactly that job fails with WorkerLost, the worker is replaced"),
			{dies, faults.ResultEncode}:         raised(ErrKindWorkerLost, "the worker died before any byte of job 2's result was written: the parent knows it held job 2, and only job 2 fails"),
			{dies, faults.ResultWrite}:          raised(ErrKindWorkerLost, "the worker died before job 2's result was whole; its private pipe ends there, and only job 2 fails"),
			{dies, faults.IdleLockWaiter}:       done("an idle worker held nothing: it is replaced and every job completes"),
			{readerr, faults.ResultDecode}:      raised(ErrKindRead, "the reader of that worker's private pipe fails: the worker is killed and replaced, job 2 fails"),
			{clean, faults.TaskDecode}:          raised(ErrKindWorkerLost, exit0Lost),
			{clean, faults.TaskRun}:             raised(ErrKindWorkerLost, exit0Lost),
			{clean, faults.ResultEncode}:        raised(ErrKindWorkerLost, exit0Lost),
			{stops, faults.TaskDecode}:          raised(ErrKindDeadline, stoppedKilled),
			{stops, faults.TaskRun}:             raised(ErrKindDeadline, stoppedKilled),
			{stops, faults.ResultEncode}:        raised(ErrKindDeadline, stoppedKilled),
			{stops, faults.ResultWrite}:         raised(ErrKindDeadline, stoppedKilled+" (the half frame on its private pipe dies with it)"),
			{conts, faults.TaskDecode}:          raised(ErrKindDeadline, stoppedKilled+"; "+deadlineBeforeCont),
			{conts, faults.TaskRun}:             raised(ErrKindDeadline, stoppedKilled+"; "+deadlineBeforeCont),
			{conts, faults.ResultEncode}:        raised(ErrKindDeadline, stoppedKilled+"; "+deadlineBeforeCont),
			{conts, faults.ResultWrite}:         raised(ErrKindDeadline, stoppedKilled+" (the half frame on its private pipe dies with it); "+deadlineBeforeCont),
			{ctrlC, faults.TaskDecode}:          raised(ErrKindInterrupted, ctrlCTracked),
			{ctrlC, faults.TaskRun}:             raised(ErrKindInterrupted, ctrlCTracked),
			{ctrlC, faults.ResultEncode}:        raised(ErrKindInterrupted, ctrlCTracked),
			{never, faults.TaskRun}:             raised(ErrKindDeadline, "job 2 runs past its deadline: its worker is killed and replaced, job 2 fails with DeadlineExceeded"),
			{outsized, faults.TaskRun}:          done("each worker's private result pipe has its own reader goroutine, which reads on while the caller is in join; join waits for the supervisor, which waits for every job to be answered, and only then reaps the workers"),
			{parentDies, faults.TaskRun}:        exitedAll("each worker's private task pipe has one writer, the parent: once it is dead the worker reads end-of-file and exits; the worker that held job 2 writes its result to a pipe nobody reads any more (EPIPE) and exits"),
			{blocksAtStart, faults.WorkerStart}: done("the start deadline notices: a worker whose slot has not reached its first read within the start deadline (the task deadline, at least 2 s, so a slow start on a loaded machine is not taken for a stuck one) is killed and replaced, and the jobs written to its private pipe, which it never began to read, go back to the queue; the replacements start clean (the held lock's moment has passed), so every job completes"),
		},
	})
}

// exit0Lost: the supervisor retires workers only by a sentinel it sends,
// so an exit it did not ask for is a death whatever its code.
const exit0Lost = "the supervisor asked the worker for no exit: a worker that ends holding job 2 is lost whatever its exit code, so job 2 alone fails with WorkerLost naming the clean exit (exit code 0), and the worker is replaced"

// ctrlCTracked: the Ctrl-C is the caller's alone.
const ctrlCTracked = "the caller's wait takes a context, which the Ctrl-C ends: the caller gets KeyboardInterrupt at once and map delivers no job; the workers ignore SIGINT, so job 2 and every other job go on and the pool is still whole for whatever the program does next"

// stoppedKilled: the deadline counts from when the job became its
// worker's head job (tworker.since), whatever the worker is doing.
const stoppedKilled = "the per-task deadline runs from when job 2 became its worker's head job, whatever that worker does: past it the supervisor sends SIGKILL, which ends a stopped (T) process too, fails job 2 alone with DeadlineExceeded and replaces the worker"

// trackedNeverHangs: the parent answers every job a fault hits; only a
// task that never returns, a stopped worker, or a worker blocked at its
// start, with no deadline, is waited for forever.
func trackedNeverHangs(sc Scenario) bool {
	return noFault(sc, func(k faults.Kind, _ Fault) bool {
		return (k.Effect == faults.NeverReturns || k.Effect == faults.Stops || k.Effect == faults.BlocksAtStart) && sc.Deadline <= 0
	})
}
