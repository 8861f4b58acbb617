package conformance

import (
	"strings"

	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// A Known is a known, argued difference between a model and its real
// pool: which disagreements it covers and why they happen, from the
// source.
type Known struct {
	ID   string
	Pair Pair
	// Cause is who is off: "model" (the model is wrong; Why says how to
	// fix it), "python" (a bug of this Python version, fixed in a later
	// one), or "race" (the real pool is nondeterministic).
	Cause string
	Why   string
	// Match reports whether a disagreement is this one.
	Match func(Result) bool `json:"-"`
}

// Explain returns the known difference that explains a disagreement, or
// nil.
func Explain(r Result) *Known {
	for i := range known {
		k := &known[i]
		if k.Pair == r.Pair && k.Match(r) {
			return k
		}
	}
	return nil
}

// KnownDifferences lists the table.
func KnownDifferences() []Known { return append([]Known(nil), known...) }

func has(sc scenarios.Scenario, pred func(scenarios.Fault) bool) bool {
	for _, f := range sc.Faults {
		if pred(f) {
			return true
		}
	}
	return false
}

var known = []Known{
	{
		ID:    "gh-94777",
		Pair:  Pair{pools.FailFast, "py:ProcessPoolExecutor"},
		Cause: "python",
		Why: "python/cpython issue 94777, in Python 3.11.2 (Debian's /usr/bin/python3). A worker died while the call queue's feeder thread " +
			"(multiprocessing/queues.py Queue._feed) was writing a task larger than the pipe's 64 KiB buffer. The manager thread " +
			"(concurrent/futures/process.py _ExecutorManagerThread.run -> terminate_broken) sets BrokenProcessPool on every pending future, " +
			"terminates the workers, so nothing reads the call queue's pipe any more, and then joins the feeder in " +
			"join_executor_internals -> call_queue.join_thread(). The feeder is blocked in send_bytes forever, so the manager never ends, and " +
			"shutdown(wait=True), which the caller's join waits in, joins the manager forever. A map or a get is still answered (the futures " +
			"were set first). The model follows the fixed terminate_broken (python/cpython PR 94784, which closes call_queue._reader so " +
			"that the feeder's write fails): the same scenarios raise BrokenProcessPool on pyenv's Python 3.11.7, which has the fix. " +
			"Matched on the evidence: the manager's stack in join_executor_internals and the feeder thread's innermost frame in a write.",
		Match: func(r Result) bool {
			return r.Model.Verdict == string(scenarios.Raised) && r.Real.Verdict == string(realpools.NoAnswer) && feederBlocked(r.RealOutcome)
		},
	},
	{
		ID:    "idle-death-before-close",
		Pair:  Pair{pools.Respawn, "py:mp.Pool"},
		Cause: "race",
		Why: "multiprocessing/pool.py (3.11) Pool._handle_workers replaces a dead worker only while " +
			"`thread._state == RUN or (cache and thread._state != TERMINATE)`. With no job submitted (jobs=0, so the cache is empty) " +
			"and wait=join, close() ends that loop: if it runs before the worker handler woke on the dead idle worker's sentinel, " +
			"the worker is never replaced, join() joins only the dead one and returns (completed); if the handler replaced it first, " +
			"the replacement blocks on the task queue's read lock that the dead worker held and join() waits for it forever. The model " +
			"always replaces first (it proves the hang); the real pool races.",
		Match: func(r Result) bool {
			sc := r.Scenario
			return sc.Jobs == 0 && sc.Wait == scenarios.WaitJoin && r.Model.Verdict == string(scenarios.Hang) &&
				r.Real.Verdict == string(realpools.Completed) && has(sc, func(f scenarios.Fault) bool { return f.Job < 0 })
		},
	},
}

// feederBlocked: the real outcome's stacks show gh-94777, the manager
// joining the call queue's feeder, which is blocked writing.
func feederBlocked(o realpools.Outcome) bool {
	var joining, writing bool
	for _, t := range o.Threads {
		stack := strings.Join(t.Stack, "\n")
		if strings.Contains(stack, "join_executor_internals") && strings.Contains(stack, "join_thread") {
			joining = true
		}
		if n := len(t.Stack); n > 0 && strings.Contains(stack, "in _feed") && strings.Contains(t.Stack[n-1], "write(") {
			writing = true
		}
	}
	return joining && writing
}
