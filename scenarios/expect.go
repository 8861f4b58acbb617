package scenarios

import (
	"fmt"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// An Expectation is the verdict a cell's standard scenario should reach,
// argued from the pool's mechanism in one line.
type Expectation struct {
	Verdict Verdict
	// Errors are the error kinds of the failed jobs, for Raised.
	Errors []string
	Reason string
}

type expectKey struct {
	pool   pools.Strategy
	effect faults.Effect
	phase  faults.Phase
}

// Expect returns the expectation for a cell's standard scenario. It is
// keyed by the fault's effect, not its name, so a new kind with a known
// effect is covered at once.
func Expect(c Cell) (Expectation, error) {
	k, err := faults.Lookup(c.Kind)
	if err != nil {
		return Expectation{}, err
	}
	e, ok := expectations[expectKey{c.Pool, k.Effect, c.Phase}]
	if !ok {
		return Expectation{}, fmt.Errorf("no expectation for %s (effect %s at %s): argue one in scenarios/expect.go", c, k.Effect, c.Phase)
	}
	return e, nil
}

var (
	hang   = func(why string) Expectation { return Expectation{Verdict: Hang, Reason: why} }
	done   = func(why string) Expectation { return Expectation{Verdict: Completed, Reason: why} }
	raised = func(kind, why string) Expectation {
		return Expectation{Verdict: Raised, Errors: []string{kind}, Reason: why}
	}
	raises  = faults.Raises
	exits   = faults.ExitRequest
	dies    = faults.Dies
	readerr = faults.ReaderFails
	never   = faults.NeverReturns
)

const (
	lostJob   = "the worker dies holding job 2; nothing answers it, so the cache never empties and the caller waits forever"
	lostJob27 = "the worker is replaced but job 2 is lost with it: the cache never empties (the seed: 2.7's respawn does not help)"
	deadLock  = "the dead worker held the task queue's read lock, which nothing releases: no worker can read a task again (cpython#96062)"
	idleDies  = "an idle worker that held nothing dies; the other worker does every job"
	deadRead  = "the result handler catches only IOError/EOFError: the error kills the thread silently and no result is read again"
	brokeDies = "a worker died while the pool was in use: the pool breaks and every pending job fails with BrokenProcessPool"
	// naive's map is 2.6's MapResult: ready at the first failed chunk;
	// respawn's is 3.x's: ready once every chunk is in. Either way map
	// raises the first error, so every job of the map carries it.
	mapRaises26 = "; map raises it: 2.6's MapResult._set makes the map ready at its first failed chunk"
	mapRaises3x = "; map raises it once every chunk is in (3.x MapResult._set: \"only consider the result ready once all jobs are done\")"
	// A frame torn by a dying writer: the reader waits for the rest, and
	// the dead writer keeps the result write lock.
	tornFrame = "the worker dies after writing part of job 2's result frame, holding the result write lock: the result handler blocks on the torn frame"
	brokeRead = "reading a result failed: the manager breaks the pool and every pending job fails"
)

var expectations = map[expectKey]Expectation{
	// naive: CPython 2.6 multiprocessing.Pool.
	{pools.Naive, raises, faults.TaskEncode}:       hang("2.6's task handler catches only IOError: the encoding error kills it, and jobs 2 to 5 are never sent"),
	{pools.Naive, raises, faults.TaskDecode}:       hang("the worker catches only EOFError/IOError around get(): the decoding error ends it holding job 2, and 2.6 never answers the job"),
	{pools.Naive, raises, faults.TaskRun}:          raised(ErrKindTask, "the worker catches Exception around the call and sends the error as job 2's result"+mapRaises26),
	{pools.Naive, raises, faults.ResultEncode}:     hang("2.6 does not guard put(): the encoding error ends the worker before job 2's result is sent"),
	{pools.Naive, raises, faults.ResultDecode}:     hang(deadRead),
	{pools.Naive, exits, faults.TaskDecode}:        hang("SystemExit is no Exception: the worker exits with job 2, which nothing answers"),
	{pools.Naive, exits, faults.TaskRun}:           hang("the worker catches only Exception: sys.exit ends it holding job 2, which nothing answers"),
	{pools.Naive, exits, faults.ResultEncode}:      hang("SystemExit escapes put(): the worker exits before job 2's result is sent"),
	{pools.Naive, exits, faults.ResultDecode}:      hang("SystemExit ends the result handler thread silently; no result is read again"),
	{pools.Naive, dies, faults.TaskDecode}:         hang(lostJob + " (2.6 decodes inside the read lock, so that lock dies too)"),
	{pools.Naive, dies, faults.TaskRun}:            hang(lostJob + " (the seed's case)"),
	{pools.Naive, dies, faults.ResultEncode}:       hang("the worker dies while it encodes job 2's result, before any byte is written: " + lostJob),
	{pools.Naive, dies, faults.ResultWrite}:        hang(tornFrame + ", and nothing answers job 2"),
	{pools.Naive, dies, faults.IdleLockHolder}:     hang(deadLock),
	{pools.Naive, dies, faults.IdleLockWaiter}:     done(idleDies),
	{pools.Naive, readerr, faults.ResultDecode}:    hang("the MemoryError escapes the result handler's get(): the thread dies silently (the seed's second incident)"),
	{pools.Naive, never, faults.TaskRun}:           hang("nothing bounds a task's time: the caller waits for job 2 forever"),
	{pools.Respawn, raises, faults.TaskEncode}:     raised(ErrKindEncode, "3.x's task handler catches Exception while putting a task and sets it as job 2's error"+mapRaises3x),
	{pools.Respawn, raises, faults.TaskDecode}:     hang("the decoding error escapes the worker loop: the worker dies with job 2, and its replacement never saw the job"),
	{pools.Respawn, raises, faults.TaskRun}:        raised(ErrKindTask, "the worker catches Exception around the call and sends the error as job 2's result"+mapRaises3x),
	{pools.Respawn, raises, faults.ResultEncode}:   raised(ErrKindEncode, "3.x wraps the encoding error (MaybeEncodingError) and sends it as job 2's result"+mapRaises3x),
	{pools.Respawn, raises, faults.ResultDecode}:   hang(deadRead),
	{pools.Respawn, exits, faults.TaskDecode}:      hang("SystemExit escapes the worker loop: " + lostJob27),
	{pools.Respawn, exits, faults.TaskRun}:         hang("the worker catches only Exception: " + lostJob27),
	{pools.Respawn, exits, faults.ResultEncode}:    hang("SystemExit escapes the MaybeEncodingError guard: " + lostJob27),
	{pools.Respawn, exits, faults.ResultDecode}:    hang("SystemExit ends the result handler thread silently; no result is read again"),
	{pools.Respawn, dies, faults.TaskDecode}:       hang(lostJob27),
	{pools.Respawn, dies, faults.TaskRun}:          hang(lostJob27),
	{pools.Respawn, dies, faults.ResultEncode}:     hang("the worker dies while it encodes job 2's result, before any byte is written: " + lostJob27),
	{pools.Respawn, dies, faults.ResultWrite}:      hang(tornFrame + "; " + lostJob27),
	{pools.Respawn, dies, faults.IdleLockHolder}:   hang(deadLock + "; the replacement blocks on it too"),
	{pools.Respawn, dies, faults.IdleLockWaiter}:   done("the dead idle worker held nothing and is replaced; no job was lost"),
	{pools.Respawn, readerr, faults.ResultDecode}:  hang("the MemoryError escapes the result handler's get(): the thread dies silently"),
	{pools.Respawn, never, faults.TaskRun}:         hang("nothing bounds a task's time: the caller waits for job 2 forever"),
	{pools.FailFast, raises, faults.TaskEncode}:    raised(ErrKindEncode, "the feeder's encoding error is set on job 2 (_on_queue_feeder_error) and the pool goes on"),
	{pools.FailFast, raises, faults.TaskDecode}:    raised(ErrKindBroken, "the task is decoded outside the worker's guard: the worker dies and the pool breaks"),
	{pools.FailFast, raises, faults.TaskRun}:       raised(ErrKindTask, "the worker catches BaseException around the call and sends the error as job 2's result"),
	{pools.FailFast, raises, faults.ResultEncode}:  raised(ErrKindEncode, "_sendback_result catches the encoding error and sends it as job 2's error"),
	{pools.FailFast, raises, faults.ResultDecode}:  raised(ErrKindBroken, brokeRead),
	{pools.FailFast, exits, faults.TaskDecode}:     raised(ErrKindBroken, "the task is decoded outside the worker's guard: SystemExit ends the worker and the pool breaks"),
	{pools.FailFast, exits, faults.TaskRun}:        raised(ErrKindExit, "the worker catches BaseException: SystemExit becomes job 2's error and the pool goes on"),
	{pools.FailFast, exits, faults.ResultEncode}:   raised(ErrKindExit, "_sendback_result catches BaseException: SystemExit becomes job 2's error"),
	{pools.FailFast, exits, faults.ResultDecode}:   raised(ErrKindBroken, brokeRead),
	{pools.FailFast, dies, faults.TaskDecode}:      raised(ErrKindBroken, brokeDies),
	{pools.FailFast, dies, faults.TaskRun}:         raised(ErrKindBroken, brokeDies),
	{pools.FailFast, dies, faults.ResultEncode}:    raised(ErrKindBroken, brokeDies+" (the worker dies while it encodes the result, before any byte is written: the result pipe is empty, so the manager's wait sees the sentinel)"),
	{pools.FailFast, dies, faults.ResultWrite}:     hang("3.11's manager reads a result itself once the result pipe is readable (_ExecutorManagerThread.wait_result_broken_or_wakeup: result_reader.recv(); 3.6 to 3.13 and main alike): the worker died mid-frame, so recv waits for bytes only the dead worker could write and the manager never looks at the sentinels again; the dead worker stays a zombie"),
	{pools.FailFast, dies, faults.IdleLockHolder}:  raised(ErrKindBroken, "an idle worker's death breaks the pool before the map: every submit fails"),
	{pools.FailFast, dies, faults.IdleLockWaiter}:  raised(ErrKindBroken, "an idle worker's death breaks the pool before the map: every submit fails"),
	{pools.FailFast, readerr, faults.ResultDecode}: raised(ErrKindBroken, brokeRead),
	{pools.FailFast, never, faults.TaskRun}:        hang("ProcessPoolExecutor has no per-task deadline: a task that never returns is waited for forever"),
	// tracked: private pipes, no shared lock, the parent knows who holds what.
	{pools.Tracked, raises, faults.TaskEncode}:    raised(ErrKindEncode, "the encoding error is set on job 2 before it is assigned"),
	{pools.Tracked, raises, faults.TaskDecode}:    raised(ErrKindTask, "the worker guards decoding too and sends the error as job 2's result"),
	{pools.Tracked, raises, faults.TaskRun}:       raised(ErrKindTask, "the error is job 2's result; the pool goes on"),
	{pools.Tracked, raises, faults.ResultEncode}:  raised(ErrKindEncode, "the encoding error is sent as job 2's result"),
	{pools.Tracked, raises, faults.ResultDecode}:  raised(ErrKindRead, "job 2's result cannot be decoded: that worker's stream is untrusted, so it is killed and replaced and job 2 fails"),
	{pools.Tracked, exits, faults.TaskDecode}:     raised(ErrKindExit, "the worker catches everything: SystemExit becomes job 2's error"),
	{pools.Tracked, exits, faults.TaskRun}:        raised(ErrKindExit, "the worker catches everything: SystemExit becomes job 2's error"),
	{pools.Tracked, exits, faults.ResultEncode}:   raised(ErrKindExit, "the worker catches everything: SystemExit becomes job 2's error"),
	{pools.Tracked, exits, faults.ResultDecode}:   raised(ErrKindRead, "job 2's result cannot be decoded: that worker is killed and replaced and job 2 fails"),
	{pools.Tracked, dies, faults.TaskDecode}:      raised(ErrKindWorkerLost, "the parent knows the dead worker held job 2: exactly that job fails with WorkerLost, the worker is replaced"),
	{pools.Tracked, dies, faults.TaskRun}:         raised(ErrKindWorkerLost, "the parent knows the dead worker held job 2: exactly that job fails with WorkerLost, the worker is replaced"),
	{pools.Tracked, dies, faults.ResultEncode}:    raised(ErrKindWorkerLost, "the worker died before any byte of job 2's result was written: the parent knows it held job 2, and only job 2 fails"),
	{pools.Tracked, dies, faults.ResultWrite}:     raised(ErrKindWorkerLost, "the worker died before job 2's result was whole; its private pipe ends there, and only job 2 fails"),
	{pools.Tracked, dies, faults.IdleLockWaiter}:  done("an idle worker held nothing: it is replaced and every job completes"),
	{pools.Tracked, readerr, faults.ResultDecode}: raised(ErrKindRead, "the reader of that worker's private pipe fails: the worker is killed and replaced, job 2 fails"),
	{pools.Tracked, never, faults.TaskRun}:        raised(ErrKindDeadline, "job 2 runs past its deadline: its worker is killed and replaced, job 2 fails with DeadlineExceeded"),
}

// NeverHangs reports whether the scenario's pool is declared never to hang
// with the scenario's faults: FailFast and Tracked on anything but a task
// that never returns, and Tracked on that too when it has a deadline.
// FailFast also hangs on a death mid-frame (result-write): its manager
// blocks in recv on the torn frame, as 3.11's does.
func NeverHangs(sc Scenario) bool {
	if sc.Pool != pools.FailFast && sc.Pool != pools.Tracked {
		return false
	}
	for _, f := range sc.Faults {
		k, err := faults.Lookup(f.Kind)
		if err != nil || (k.Effect == faults.NeverReturns && (sc.Pool == pools.FailFast || sc.Deadline <= 0)) {
			return false
		}
		if sc.Pool == pools.FailFast && k.Effect == faults.Dies && f.Phase == faults.ResultWrite {
			return false
		}
	}
	return true
}
