package conformance

import (
	"slices"
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
	// one), "race" (the outcome is a race, on either side), or "driver" (the
	// real side does not realise the scenario's plan as the model does).
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
			"`thread._state == RUN or (cache and thread._state != TERMINATE)`. With the cache empty (no job submitted, or every " +
			"job already failed in the parent at task-encode, which removes it) and wait=join, close() ends that loop: if it runs " +
			"before the worker handler woke on the dead idle worker's sentinel, the worker is never replaced, join() joins only " +
			"the dead one and returns; if the handler replaced it first, the replacement blocks on the task queue's read lock " +
			"that the dead worker held and join() waits for it forever. The model races the same way (its worker handler is a " +
			"goroutine woken by the death): either side can show either verdict, and the replays count how often.",
		Match: func(r Result) bool {
			sc := r.Scenario
			hung := r.Model.Verdict == string(scenarios.Hang) || r.Real.Verdict == string(realpools.NoAnswer)
			answered := r.Model.Verdict != string(scenarios.Hang) || r.Real.Verdict != string(realpools.NoAnswer)
			return sc.Wait == scenarios.WaitJoin && hung && answered && everyJobFailsEncoding(sc) &&
				has(sc, func(f scenarios.Fault) bool { return f.Job < 0 })
		},
	},
	{
		ID:    "error-result-traps",
		Pair:  Pair{pools.Respawn, "py:mp.Pool"},
		Cause: "driver",
		Why:   errorResultTraps,
		Match: func(r Result) bool { return erroredWithResultFault(r.Scenario) },
	},
	{
		ID:    "error-result-traps",
		Pair:  Pair{pools.FailFast, "py:ProcessPoolExecutor"},
		Cause: "driver",
		Why:   errorResultTraps,
		Match: func(r Result) bool { return erroredWithResultFault(r.Scenario) },
	},
	{
		ID:    "first-result-fault",
		Pair:  Pair{pools.Respawn, "py:mp.Pool"},
		Cause: "driver",
		Why:   firstResultFault,
		Match: func(r Result) bool { return twoResultFaults(r.Scenario) },
	},
	{
		ID:    "first-result-fault",
		Pair:  Pair{pools.FailFast, "py:ProcessPoolExecutor"},
		Cause: "driver",
		Why:   firstResultFault,
		Match: func(r Result) bool { return twoResultFaults(r.Scenario) },
	},
	{
		ID:    "map-first-failure",
		Pair:  Pair{pools.Respawn, "py:mp.Pool"},
		Cause: "race",
		Why: "multiprocessing/pool.py (3.11) MapResult._set keeps the first failure to arrive (`if not success and self._success: " +
			"self._success = False; self._value = result`), and map raises it once every chunk is in. With two failing jobs on " +
			"different workers, which arrives first is the workers' race, on the model as on the real pool; both raise, with " +
			"one or the other job's error.",
		Match: func(r Result) bool {
			sc := r.Scenario
			return sc.Wait == scenarios.WaitMap && sc.Workers > 1 && r.Model.Verdict == string(scenarios.Raised) &&
				r.Real.Verdict == string(realpools.Raised) && faultedJobs(sc) > 1
		},
	},
	{
		ID:    "broken-before-answered",
		Pair:  Pair{pools.FailFast, "py:ProcessPoolExecutor"},
		Cause: "race",
		Why: "Both raise, with BrokenProcessPool, and differ only in whether some other job kept its own error (task-error, " +
			"encode-error, exit-request). concurrent/futures/process.py (3.11): when a worker dies, " +
			"_ExecutorManagerThread.terminate_broken sets BrokenProcessPool on every future still pending; a job whose own result " +
			"(an error) the manager read before it keeps that error. Which comes first is the race between the dying worker and " +
			"the others, on the model (its manager goroutine) as on the real pool.",
		Match: func(r Result) bool {
			return r.Model.Verdict == string(scenarios.Raised) && r.Real.Verdict == string(realpools.Raised) &&
				slices.Contains(r.Model.Kinds, scenarios.ErrKindBroken) && slices.Contains(r.Real.Kinds, scenarios.ErrKindBroken)
		},
	},
	{
		ID:    "ppe-map-raises-in-order",
		Pair:  Pair{pools.FailFast, "py:ProcessPoolExecutor"},
		Cause: "model",
		Why: "concurrent/futures/_base.py (3.11) Executor.map returns an iterator (result_iterator) that yields each future's " +
			"result in job order and raises at the first failed job, without waiting for later jobs. A job before the hung one " +
			"that raised (its error is in) answers the caller on the real pool, while the failfast model's Map waits for every " +
			"job and proves a hang on the later one. The fix is in pools/ (failfast's Map): return once every job up to the " +
			"first failed one in order is resolved, with that job's error, as result_iterator does.",
		Match: func(r Result) bool {
			return r.Scenario.Wait == scenarios.WaitMap && r.Model.Verdict == string(scenarios.Hang) && r.Real.Verdict == string(realpools.Raised)
		},
	},
	{
		ID:    "unsound-task-handler-hang",
		Pair:  Pair{pools.Respawn, "py:mp.Pool"},
		Cause: "model",
		Why: "The respawn model proved a hang with the caller waiting in join for the task handler to finish, where the real " +
			"pool answers (mp.Pool's _handle_tasks ends on the sentinel close() puts) and the model's own replays answer too: a " +
			"proof taken at a moment when the task handler was still going to finish, so the proof is not sound there. Rare " +
			"(seen about once in 500 scenarios). Not diagnosed: the fix is in the task handler's wait in pools/queue.go (its " +
			"releasers or ready function at shutdown) or in the proof (scenarios/proof.go), found by replaying the scenario " +
			"until the model hangs and reading its snapshot.",
		Match: func(r Result) bool {
			return r.Model.Verdict == string(scenarios.Hang) && r.Real.Verdict != string(realpools.NoAnswer) &&
				strings.Contains(r.Model.Summary, "waiting for the task-handler to finish")
		},
	},
	{
		ID:    "idle-death-vs-submit",
		Pair:  Pair{pools.FailFast, "py:ProcessPoolExecutor"},
		Cause: "race",
		Why: "An idle worker's death breaks the pool (concurrent/futures/process.py 3.11, the manager's sentinel wait in " +
			"wait_result_broken_or_wakeup, then terminate_broken). The driver submits only once the manager has seen the death, " +
			"so on the real pool every submit raises BrokenProcessPool. The model submits once the worker is dead, and its " +
			"manager may not have broken the pool yet: a job that fails in the parent (task-encode) then keeps its own error. " +
			"Both are outcomes of the same race; the model's submit is not ordered after the break as the driver's is.",
		Match: func(r Result) bool {
			return r.Model.Verdict == string(scenarios.Raised) && r.Real.Verdict == string(realpools.Raised) &&
				has(r.Scenario, func(f scenarios.Fault) bool { return f.Job < 0 }) &&
				slices.Contains(r.Real.Kinds, scenarios.ErrKindBroken)
		},
	},
	{
		ID:    "idle-death-vs-shutdown",
		Pair:  Pair{pools.FailFast, "py:ProcessPoolExecutor"},
		Cause: "race",
		Why: "No job, wait=join, an idle worker dies holding the call queue's read lock. concurrent/futures/process.py (3.11) " +
			"_ExecutorManagerThread.run: if the manager sees the dead worker's sentinel first it breaks the pool " +
			"(terminate_broken terminates the other workers) and shutdown(wait=True) returns; if it sees the shutdown wakeup " +
			"first it sends one None per worker and joins them (join_executor_internals), and the live worker, blocked on the " +
			"read lock the dead one held, never gets its None: no answer. The real pool goes either way (about half and half " +
			"here); the model always takes the first branch.",
		Match: func(r Result) bool {
			sc := r.Scenario
			return sc.Jobs == 0 && sc.Wait == scenarios.WaitJoin && r.Model.Verdict == string(scenarios.Completed) &&
				r.Real.Verdict == string(realpools.NoAnswer) && has(sc, func(f scenarios.Fault) bool { return f.Job < 0 })
		},
	},
}

const errorResultTraps = "A job whose task raises (raise or sys-exit at task-run) also has a fault at one of its result phases. " +
	"In the model the result triggers travel with the job and act on whatever result is sent, the error included " +
	"(pools: resultOf keeps the triggers for the error result). The driver (realpools/driver/poolhang_driver.py run_job) attaches " +
	"result faults only to a returned value (ResultTrap): a task that raised sends its exception, which carries none, so the " +
	"result fault never strikes on the real side. The scenario means different things on the two sides; the fix is in the " +
	"driver: make the injected exception carry the job's result faults (its __reduce__ striking as ResultTrap's does)."

const firstResultFault = "One job has two faults at result phases (result-encode, result-write, result-decode, " +
	"reader-memory-error). The model strikes them in the order the job reaches them (encode before write before decode). " +
	"The driver (poolhang_driver.py run_job) returns a ResultTrap for the first result fault in the scenario's text only " +
	"and ignores the rest, so the real side runs a different plan; the fix is in the driver: pick the earliest phase, as " +
	"the model does, or refuse two result faults on one job (ErrBadScenario)."

func erroredWithResultFault(sc scenarios.Scenario) bool {
	raised := map[int]bool{}
	for _, f := range sc.Faults {
		if f.Phase == "task-run" && (f.Kind == "raise" || f.Kind == "sys-exit") {
			raised[f.Job] = true
		}
	}
	return has(sc, func(f scenarios.Fault) bool { return raised[f.Job] && f.Job >= 0 && isResultPhase(f) })
}

// everyJobFailsEncoding: each job has a raise at task-encode (or there
// are none), so no job stays in the pool's cache.
func everyJobFailsEncoding(sc scenarios.Scenario) bool {
	failed := map[int]bool{}
	for _, f := range sc.Faults {
		if f.Job >= 0 && f.Kind == "raise" && f.Phase == "task-encode" {
			failed[f.Job] = true
		}
	}
	return len(failed) == sc.Jobs
}

func twoResultFaults(sc scenarios.Scenario) bool {
	n := map[int]int{}
	for _, f := range sc.Faults {
		if f.Job >= 0 && isResultPhase(f) {
			n[f.Job]++
		}
	}
	for _, c := range n {
		if c > 1 {
			return true
		}
	}
	return false
}

func isResultPhase(f scenarios.Fault) bool {
	return strings.HasPrefix(string(f.Phase), "result-")
}

func faultedJobs(sc scenarios.Scenario) int {
	jobs := map[int]bool{}
	for _, f := range sc.Faults {
		if f.Job >= 0 {
			jobs[f.Job] = true
		}
	}
	return len(jobs)
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
