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

// A When is where an expectation applies: a fault's effect at a phase. It
// is keyed by the effect, not the kind's name, so a new kind with a known
// effect is covered at once.
type When struct {
	Effect faults.Effect
	Phase  faults.Phase
}

// StrategyExpectations is what one strategy's file in this package
// declares: its cells' expectations and when it may hang.
type StrategyExpectations struct {
	Strategy pools.Strategy
	// File is the file that argues them, named in every error about them.
	File  string
	Cells map[When]Expectation
	// NeverHangs reports whether the pool is declared never to hang with
	// sc's faults; the hang search and the never-hang tests rely on it.
	NeverHangs func(sc Scenario) bool
	// NoStandardDeadline, if set, says why the matrix runs the pool
	// without a per-task deadline although it takes one (its real
	// counterpart's cells run without one).
	NoStandardDeadline string
}

var expectations = map[pools.Strategy]StrategyExpectations{}

// expect registers a strategy's expectations; each expect_*.go file calls
// it once, from init.
func expect(e StrategyExpectations) {
	if _, dup := expectations[e.Strategy]; dup {
		panic("scenarios: expectations for " + string(e.Strategy) + " registered twice (" + e.File + ")")
	}
	expectations[e.Strategy] = e
}

// expectFile is the file a strategy's expectations belong in.
func expectFile(s pools.Strategy) string { return "scenarios/expect_" + string(s) + ".go" }

// Expect returns the expectation for a cell's standard scenario.
func Expect(c Cell) (Expectation, error) {
	k, err := faults.Lookup(c.Kind)
	if err != nil {
		return Expectation{}, err
	}
	se, ok := expectations[c.Pool]
	if !ok {
		return Expectation{}, fmt.Errorf("no expectations for strategy %s: write %s, registering them with expect()", c.Pool, expectFile(c.Pool))
	}
	cells, file := se.Cells, se.File
	if c.Section != "" {
		cells, file = sectionExpectations[c.Section][c.Pool], "the file that defines section "+c.Section
	}
	e, ok := cells[When{k.Effect, c.Phase}]
	if !ok {
		return Expectation{}, fmt.Errorf("no expectation for %s (effect %s at %s): argue one in %s", c, k.Effect, c.Phase, file)
	}
	return e, nil
}

// sectionExpectations holds each section's expectations, by section and
// strategy.
var sectionExpectations = map[string]map[pools.Strategy]map[When]Expectation{}

// expectSection registers strategy p's expectations for the cells of
// section name; the file that defines the section calls it from init.
func expectSection(name string, p pools.Strategy, cells map[When]Expectation) {
	if sectionExpectations[name] == nil {
		sectionExpectations[name] = map[pools.Strategy]map[When]Expectation{}
	}
	if _, dup := sectionExpectations[name][p]; dup {
		panic("scenarios: expectations for section " + name + ", strategy " + string(p) + " registered twice")
	}
	sectionExpectations[name][p] = cells
}

// NeverHangs reports whether the scenario's pool is declared never to hang
// with the scenario's faults, by its expectations file. A strategy with no
// file declares nothing, so it may hang.
func NeverHangs(sc Scenario) bool {
	se, ok := expectations[sc.Pool]
	return ok && se.NeverHangs(sc)
}

// noFault reports whether no fault of sc is one that may hang; a fault of
// an unknown kind may.
func noFault(sc Scenario, mayHang func(k faults.Kind, f Fault) bool) bool {
	for _, f := range sc.Faults {
		k, err := faults.Lookup(f.Kind)
		if err != nil || mayHang(k, f) {
			return false
		}
	}
	return true
}

func mayHangOnAnything(Scenario) bool { return false }

var (
	hang   = func(why string) Expectation { return Expectation{Verdict: Hang, Reason: why} }
	done   = func(why string) Expectation { return Expectation{Verdict: Completed, Reason: why} }
	raised = func(kind, why string) Expectation {
		return Expectation{Verdict: Raised, Errors: []string{kind}, Reason: why}
	}
	raises   = faults.Raises
	exits    = faults.ExitRequest
	dies     = faults.Dies
	readerr  = faults.ReaderFails
	never    = faults.NeverReturns
	clean    = faults.ExitsClean
	stops    = faults.Stops
	conts    = faults.StopsThenContinues
	ctrlC    = faults.Interrupted
	outsized = faults.Outsized
)

// Reasons shared by the multiprocessing.Pool models (naive, respawn).
const (
	// stoppedAlive: a worker in state T is neither running nor dead.
	stoppedAlive = "the worker stopped by SIGSTOP (state T) is alive: no sentinel fires, no pipe closes, and it never writes again"
	// stoppedLock: the read lock is held across the blocking read
	// (2.6's get: racquire(); recv(); 3.x SimpleQueue.get: `with self._rlock:
	// res = self._reader.recv_bytes()`).
	stoppedLock = "the stopped idle worker holds the task queue's read lock, taken around its blocking read; it is alive, so nothing releases the lock and every other worker blocks on it: no task is read again"
	deadLock    = "the dead worker held the task queue's read lock, which nothing releases: no worker can read a task again (cpython#96062)"
	deadRead    = "the result handler catches only IOError/EOFError: the error kills the thread silently and no result is read again"
	// A frame torn by a dying writer: the reader waits for the rest, and
	// the dead writer keeps the result write lock.
	tornFrame = "the worker dies after writing part of job 2's result frame, holding the result write lock: the result handler blocks on the torn frame"
)

// Why a result larger than the pipe does not deadlock a multiprocessing.Pool
// whose caller joins first: join() never waits for a worker before it has
// waited for the result handler, and the result handler reads the result
// pipe independently of join, until the cache is empty. The worker's write
// of job 2's 1 MiB returns once the handler has read all but the pipe's
// 64 KiB; the documentation's "joining processes that use queues" deadlock
// needs the joiner to be the only reader, which a Pool's caller never is.
const (
	drainsJoin26 = "2.6's Pool.join joins the task handler, then the result handler, and only then the workers; the result handler goes on reading the result pipe after its sentinel `while cache and thread._state != TERMINATE` (_handle_results), so job 2's 1 MiB is drained while the caller is in join, and the worker's write returns"
	drainsJoin3x = "3.11's Pool.join joins the worker handler, the task handler, the result handler, and only then the workers (Pool.join); _handle_results reads on `while cache and thread._state != TERMINATE`, and _handle_workers sends the workers their sentinels only once the cache is empty, so job 2's 1 MiB is read while the caller is in join and the worker's write returns"
)

// Reasons shared by the sigstop-cont cells (faults/sigstopcont.go).
const (
	// lateNote: when the continue comes (runner: continueStopped).
	lateNote = " (the runner sends SIGCONT once the caller is proven stuck on the stopped worker alone, the state in which sigstop's cell is a hang)"
	// deadlineBeforeCont: a deadline is a releaser, so the continue's
	// point is never reached.
	deadlineBeforeCont = "the deadline comes before any SIGCONT: it is a releaser of the stopped worker's wait, so the caller is never proven stuck on it, which is when the runner would continue it"
)
