package scenarios

import (
	"fmt"
	"strings"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
)

// A Pair is a model and the real pool it models (realpools.Pool.Model).
type Pair struct {
	Model pools.Strategy
	Real  string
}

// Pairs lists every model/real pair: respawn and py:mp.Pool, failfast and
// py:ProcessPoolExecutor, billiard and py:billiard, loky and py:loky, pebble and py:pebble. naive (2.6's Pool) has no runnable counterpart:
// there is no Python 2 here.
func Pairs() []Pair {
	var out []Pair
	for _, p := range realpools.Pools() {
		if p.Model != "" {
			out = append(out, Pair{pools.Strategy(p.Model), p.Name})
		}
	}
	return out
}

// NoCounterpart says why a model has no real column beside it, or "" if
// it has one.
func NoCounterpart(s pools.Strategy) string {
	for _, p := range Pairs() {
		if p.Model == s {
			return ""
		}
	}
	switch s {
	case pools.Naive:
		return "no runnable counterpart: it models Python 2.6's Pool, and there is no Python 2 here"
	case pools.Tracked:
		return "no real counterpart: it is poolhang's own design"
	}
	return "no real counterpart"
}

// realErrorKinds maps a real pool's error class to the models' error
// kind, the one place where the two vocabularies meet. A class matches
// by its last dotted name; message, if set, must also appear in the
// error's message (billiard wraps WorkerLostError in
// ExceptionWithTraceback).
var realErrorKinds = []struct {
	class, message, kind string
}{
	{"BrokenProcessPool", "", ErrKindBroken},     // CPython 3.11 concurrent.futures.process; loky
	{"TerminatedWorkerError", "", ErrKindBroken}, // loky: a BrokenProcessPool naming the worker's exit
	{"BrokenPool", "", ErrKindBroken},            // billiard's and concurrent.futures' base
	{"ProcessExpired", "", ErrKindWorkerLost},    // pebble: the worker that ran the task died
	{"WorkerLostError", "", ErrKindWorkerLost},   // billiard.exceptions
	{"ExceptionWithTraceback", "WorkerLostError", ErrKindWorkerLost},
	{"MaybeEncodingError", "", ErrKindEncode},     // multiprocessing.pool, billiard.pool
	{"PicklingError", "", ErrKindEncode},          // loky re-raises a task's pickling error
	{"SystemExit", "", ErrKindExit},               // raised in the worker, sent back (PPE, loky)
	{"MemoryError", "", ErrKindRead},              // the parent's reader
	{"TimeoutError", "", ErrKindDeadline},         // pebble's per-task timeout (unused here)
	{"KeyboardInterrupt", "", ErrKindInterrupted}, // a Ctrl-C ended the caller's wait
	// The call styles that end a pool (scenarios/endings.go).
	{"Terminated", "", ErrKindTerminated},            // the driver's: not answered when terminate() returned
	{"ShutdownExecutorError", "", ErrKindTerminated}, // loky: shutdown(kill_workers=True) fails what is pending
	{"CancelledError", "", ErrKindCancelled},         // shutdown(cancel_futures=True); pebble's stop()
	{"AssertionError", "result_hander not alive", ErrKindTerminateRaised},
	// pebble's BasePool._check_pool_state once the pool is in ERROR
	// (BrokenProcessPool inside a pebble manager thread).
	{"RuntimeError", "Unexpected error within the Pool", ErrKindBroken},
}

// RealErrorKind is the models' error kind for a real pool's error. The
// driver's own InjectedError is the fault itself: an encode error at an
// encode phase, the caller's own error at its phases (callback, input),
// a task error elsewhere.
func RealErrorKind(e *realpools.PyError, phase faults.Phase) string {
	if e == nil {
		return ""
	}
	name := e.Class[strings.LastIndexByte(e.Class, '.')+1:]
	if name == "Exception" {
		name = billiardItemError(e.Message)
	}
	if name == "InjectedError" {
		switch phase {
		case faults.TaskEncode, faults.ResultEncode:
			return ErrKindEncode
		case faults.Callback:
			return ErrKindCallback
		case faults.Input:
			return ErrKindInput
		}
		return ErrKindTask
	}
	for _, k := range realErrorKinds {
		if k.class == name && strings.Contains(e.Message, k.message) {
			return k.kind
		}
	}
	return ErrKindOther
}

// billiardItemError names the error a billiard imap item wraps: 4.1's
// IMapIterator.next raises a failed item as `Exception(value)`, value
// an ExceptionInfo whose str is the traceback of the error set (the
// driver keeps its first 500 characters). mark_as_worker_lost's is one
// frame deep and names WorkerLostError; a worker's passes through the
// driver's run_job, which raises only the driver's InjectedError
// (workloop catches only Exception, so an exit request never gets
// there). Any other Exception stays itself.
func billiardItemError(msg string) string {
	if !strings.HasPrefix(msg, "Traceback (most recent call last):") {
		return "Exception"
	}
	switch {
	case strings.Contains(msg, "WorkerLostError"):
		return "WorkerLostError"
	case strings.Contains(msg, "in workloop") && strings.Contains(msg, "in run_job"):
		return "InjectedError"
	}
	return "Exception"
}

// An Explanation is a known disagreement between a model and its real
// pool on one cell, argued from the real pool's source.
type Explanation struct {
	Model pools.Strategy
	Real  string
	Fault string // KIND@PHASE, or SECTION:KIND@PHASE for a section's cell
	Why   string
}

// explanations lists every cell where a model and its real pool disagree
// on purpose. The live test fails on a disagreement missing here and on
// an entry whose cell now agrees, so the table cannot rot. On CPython
// 3.11.2 (Debian's /usr/bin/python3) the CPython pairs agree on every
// cell.
var explanations = []Explanation{
	{pools.Billiard, "py:billiard", "reader-memory-error@result-decode",
		"billiard 4.1's ResultHandler lets the MemoryError out of _process_result; body's `finally: finish_at_shutdown()` reads the frame body left in the pipe as the next message, fails again, and PoolThread.run's `except Exception: os._exit(1)` ends the real parent (parent-exited); the model cannot end the harness's own process, so its result handler dies there and the caller, never answered, is proven stuck (hang): in both, the caller never gets an answer"},
	{pools.Loky, "py:loky", "parent-killed@task-run",
		"loky 3.3's _process_worker waits for a call with `call_queue.get(block=True, timeout=timeout)`, the reusable executor's idle timeout (10 s): once the parent is gone no call comes, each worker shuts itself down after the timeout, and the real workers end (about a minute here); the loky model is failfast's mechanism, which has no idle timeout, so its orphans stay, as 3.11's ProcessPoolExecutor's do. The loky model does not model the idle timeout"},
	{pools.Loky, "py:loky", "fork-held-lock@worker-start",
		"loky starts its workers with its own `loky` context by default (loky/backend/context.py: `method or _DEFAULT_START_METHOD or \"loky\"`, a fork followed by an exec, like spawn), so no lock is inherited held and the real pool completes; the model's column is the fork start that 3.11's ProcessPoolExecutor uses by default, as for failfast (the real loky cannot be run with start=fork: get_reusable_executor refuses the 'fork' context)"},
	{pools.Loky, "py:loky", "sigstop@idle-lock-holder",
		"the real cell is n/a: loky retires an idle worker after its idle timeout (10 s, `call_queue.get(block=True, timeout=timeout)`) and starts another, so the worker stopped holding the call queue's read lock is never the only way forward for long and the driver cannot hold the point; the model, without the idle timeout, proves the hang 3.11's ProcessPoolExecutor has"},
}

// Explanations lists the known model/real disagreements.
func Explanations() []Explanation { return append([]Explanation(nil), explanations...) }

func explain(p Pair, fault string) string {
	for _, e := range explanations {
		if e.Model == p.Model && e.Real == p.Real && e.Fault == fault {
			return e.Why
		}
	}
	section, rest, ok := strings.Cut(fault, ":")
	if !ok {
		section, rest = "", fault
	}
	kind, phase, _ := strings.Cut(rest, "@")
	if race := realRaceIn(section, p.Real, kind, faults.Phase(phase)); race != "" && raceSide[p.Model] != nil {
		return "a race in the real pool (" + race + "); the model takes one side of it, deterministically: " + raceSide[p.Model](section, faults.Phase(phase))
	}
	return ""
}

// raceSide says which side of its real pool's races (realRace) a model
// takes at a phase. Where the real cell races, a disagreement is
// explained by the race, and an agreement is not a stale explanation:
// the next run may go the other way.
var raceSide = map[pools.Strategy]func(section string, ph faults.Phase) string{
	// realRaceIn's only billiard race: a death in a terminate() cell.
	pools.Billiard: func(string, faults.Phase) string {
		return "its armed grace (ModelGrace, 100 ms) keeps the worker handler ready, the clock its releaser, so the caller's get is never proven stuck before mark_as_worker_lost fails the job with WorkerLostError; terminate() comes after"
	},
	// realRaceIn's only loky race: the initializer section.
	pools.Loky: func(string, faults.Phase) string {
		return "its workers start in milliseconds, and the manager breaks the executor at the first one that returns from its initializer: TerminatedWorkerError"
	},
	pools.Pebble: func(_ string, ph faults.Phase) string {
		if ph == faults.IdleLockWaiter {
			return "its pool manager inspects the death before the map is scheduled (the real one polls every SLEEP_UNIT, 0.1 s), so the pool is in ERROR and the map raises RuntimeError"
		}
		return "its pool manager inspects the death once the message manager has handled every message written before it, the dead worker's ACK included, so the task fails with ProcessExpired; " +
			"and a death inside the channel mutexes strikes once the earlier jobs' results are out (in the real pool one can still be waiting for the writer mutex, and the map then waits for it for ever)"
	},
}

// wrappedItemError explains a billiard imap cell where both raised but
// the real error is a bare Exception: billiard 4.1's IMapIterator.next
// raises every failed item as `Exception(value)`, value the
// ExceptionInfo of the error the worker or mark_as_worker_lost set, so
// the real class names no kind (other), while the model names the error
// it carries. It is a rule rather than an entry of the table: it holds
// for every raised cell of billiard's imap sections, and only there.
func wrappedItemError(p Pair, model MatrixCell, real RealCell) string {
	if p.Real != "py:billiard" || model.Verdict != string(Raised) || real.Verdict != string(realpools.Raised) ||
		real.Error != "Exception" || real.Kind != ErrKindOther {
		return ""
	}
	switch real.Section {
	case "imap", "imap_unordered", "imap-chunks":
		return "billiard 4.1's IMapIterator.next raises a failed item as `Exception(value)` (value the ExceptionInfo of the worker's error, or of mark_as_worker_lost's WorkerLostError), so the real class is Exception whatever the error; the model names the error the item carries (" +
			strings.Join(model.Errors, ", ") + "); both raise it for the same item"
	}
	return ""
}

// Agrees says whether a model's cell and its real pool's agree: the same
// answer (completed, or raised with a mapped error kind among the
// model's), or a proven hang where the real pool gave no answer. If not,
// it says how they differ.
func Agrees(model MatrixCell, real RealCell) (bool, string) {
	differ := fmt.Sprintf("%s %s, %s %s", model.Pool, describeModel(model), real.Pool, describeReal(real))
	switch {
	case real.Verdict == "n/a":
		return false, differ
	case model.Verdict == string(Hang), model.Verdict == string(Livelock):
		// A livelock is seen from outside as no answer while workers
		// keep being started and dying (the driver counts them).
		return real.Verdict == string(realpools.NoAnswer), differ
	case model.Verdict == string(Orphans), model.Verdict == string(WorkersExited):
		// parent-killed: the same fate of the workers (the verdict words
		// are the same on both sides).
		return real.Verdict == model.Verdict, differ
	case model.Verdict == string(Completed):
		return real.Verdict == string(realpools.Completed), differ
	case model.Verdict == string(Raised):
		if real.Verdict != string(realpools.Raised) {
			return false, differ
		}
		if len(model.Errors) == 0 && real.Kind == "" {
			// The call ended early with no job failed on either side
			// (billiard's imap, whose input raised: set_length).
			return true, differ
		}
		for _, k := range model.Errors {
			if k == real.Kind {
				return true, differ
			}
		}
		return false, differ
	}
	return false, differ
}

func describeModel(c MatrixCell) string {
	if len(c.Errors) > 0 {
		return c.Verdict + " (" + strings.Join(c.Errors, ", ") + ")"
	}
	return c.Verdict
}

func describeReal(c RealCell) string {
	if c.Error != "" {
		return fmt.Sprintf("%s (%s: %s)", c.Verdict, c.Error[strings.LastIndexByte(c.Error, '.')+1:], c.Kind)
	}
	return c.Verdict
}

// A PairReport is how a model and its real pool compare, cell by cell.
type PairReport struct {
	Model string `json:"model"`
	Real  string `json:"real"`
	Cells int    `json:"cells"`
	Agree int    `json:"agree"`
	// Disagreements lists every cell where they differ, each with its
	// explanation ("" if there is none: a defect the tests report).
	Disagreements []Disagreement `json:"disagreements"`
	// Stale lists explanations whose cell now agrees.
	Stale []string `json:"stale,omitempty"`
}

// A Disagreement is one cell where a model and its real pool differ.
type Disagreement struct {
	Fault       string `json:"fault"`
	Differ      string `json:"differ"`
	Explanation string `json:"explanation"`
}

// Compare compares every cell the model and the real pool both have.
func Compare(m Matrix, r RealMatrix, p Pair) PairReport {
	rep := PairReport{Model: string(p.Model), Real: p.Real, Disagreements: []Disagreement{}}
	differs := map[string]bool{}
	for _, rc := range r.Cells {
		if rc.Pool != p.Real {
			continue
		}
		mc, ok := m.Cell(Cell{Pool: p.Model, Kind: rc.Fault, Phase: faults.Phase(rc.Phase), Section: rc.Section})
		if !ok {
			continue
		}
		rep.Cells++
		fault := sectionPrefix(rc.Section) + rc.Fault + "@" + rc.Phase
		if ok, how := Agrees(mc, rc); ok {
			rep.Agree++
		} else {
			differs[fault] = true
			why := explain(p, fault)
			if why == "" {
				why = wrappedItemError(p, mc, rc)
			}
			rep.Disagreements = append(rep.Disagreements, Disagreement{fault, how, why})
		}
	}
	for _, e := range explanations {
		if e.Model == p.Model && e.Real == p.Real && !differs[e.Fault] {
			rep.Stale = append(rep.Stale, e.Fault)
		}
	}
	return rep
}

// Line is the report as one line of results.
func (rep PairReport) Line() string {
	s := fmt.Sprintf("%s vs %s: %d of %d cells agree", rep.Model, rep.Real, rep.Agree, rep.Cells)
	if len(rep.Disagreements) == 0 {
		return s + "."
	}
	var ds []string
	for _, d := range rep.Disagreements {
		why := d.Explanation
		if why == "" {
			why = "UNEXPLAINED"
		}
		ds = append(ds, fmt.Sprintf("%s (%s: %s)", d.Fault, d.Differ, why))
	}
	return s + "; they differ on " + strings.Join(ds, "; ") + "."
}
