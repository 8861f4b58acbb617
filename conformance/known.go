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
		ID:    "terminate-broken-dict-race",
		Pair:  Pair{pools.FailFast, "py:ProcessPoolExecutor"},
		Cause: "python",
		Why: "A race in concurrent/futures/process.py, seen on Debian's Python 3.11.2 and present unchanged in 3.11.7, 3.12.1, 3.13.0 " +
			"(pyenv's) and CPython main as stored (commit 044eb6af): the manager thread breaks the pool " +
			"(_ExecutorManagerThread.terminate_broken) and iterates `for work_id, work_item in self.pending_work_items.items()` to set " +
			"BrokenProcessPool on each, while the call queue's feeder thread, failing to pickle another task (a task-encode fault), runs " +
			"_SafeQueue._on_queue_feeder_error, which does `self.pending_work_items.pop(obj.work_id, None)` on the same dict with no lock " +
			"the manager holds. The dict changes size during the iteration: the manager thread dies of `RuntimeError: dictionary changed " +
			"size during iteration` (process.py line 484 in 3.11.2) after setting only the futures before that point, so the rest stay " +
			"pending for ever, no worker is terminated, and a get() or shutdown waits for ever. The model has no such race (its manager " +
			"fails every pending job and encodes tasks under the pool's one lock). Evidence (replaying the scenario of the 500-run search, " +
			"pool=py:ProcessPoolExecutor workers=4 jobs=12 payload=1048576 wait=get fault=raise@task-decode:4 fault=raise@result-decode:1 " +
			"fault=raise@task-encode:6, 6 at a time, 150 runs): 15 no-answers, each with 1 value, 1 error and 10 unanswered jobs, no " +
			"manager thread among the parent's threads, the workers alive and unterminated, and in 9 of them the RuntimeError's traceback " +
			"in the last lines of the parent's stderr (in the others a worker's traceback came last); 0 no-answers in 40 runs one at a time. " +
			"Matched on the evidence: a task-encode fault, and no parent thread left in concurrent/futures/process.py.",
		Match: func(r Result) bool {
			return r.Model.Verdict == string(scenarios.Raised) && r.Real.Verdict == string(realpools.NoAnswer) &&
				has(r.Scenario, func(f scenarios.Fault) bool { return f.Kind == "raise" && f.Phase == "task-encode" }) &&
				managerGone(r.RealOutcome)
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
		ID:    "map-chunksize-empty-pool",
		Pair:  Pair{pools.Respawn, "py:mp.Pool"},
		Cause: "python",
		Why: "A race in multiprocessing/pool.py, the same in 3.10.13, 3.11.2, 3.11.7, 3.12.1 and 3.13.0: Pool._map_async computes map's " +
			"default chunk size as `divmod(len(iterable), len(self._pool) * 4)`, while the worker handler's _maintain_pool reaps a dead " +
			"worker (_join_exited_workers: `del pool[i]`) before it starts its replacement (_repopulate_pool_static). With one worker " +
			"that died idle (the driver calls map as soon as the struck worker is dead), a map called between the two sees an empty " +
			"pool and raises ZeroDivisionError at once, where it otherwise waits behind the read lock the dead worker held (the " +
			"model's hang, and the real pool's usual no-answer: 9 of 10 replays of `pool=py:mp.Pool workers=1 jobs=11 wait=map " +
			"fault=os-exit@idle-lock-holder`, 1 ZeroDivisionError). The model computes the chunk size from the pool's size, which " +
			"a death does not change.",
		Match: func(r Result) bool {
			return r.Scenario.Wait == scenarios.WaitMap && r.Scenario.Workers == 1 && r.Real.Verdict == string(realpools.Raised) &&
				strings.Contains(r.Real.Summary, "ZeroDivisionError") && has(r.Scenario, func(f scenarios.Fault) bool { return f.Job < 0 })
		},
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
		ID:    "map-first-failure-broken",
		Pair:  Pair{pools.FailFast, "py:ProcessPoolExecutor"},
		Cause: "race",
		Why: "concurrent/futures/_base.py (3.11) Executor.map's result_iterator raises the error of the first failed job in order. " +
			"That job's future holds its own error (task-error, exit-request, encode-error) if the manager read its result before the " +
			"pool broke, and BrokenProcessPool if another job's fault (a death, or a task that fails to unpickle in its worker) broke " +
			"it first (process.py _ExecutorManagerThread.terminate_broken fails every future still pending). Which comes first is the " +
			"workers' race, on the model as on the real pool: both raise, one with the job's own error, the other with BrokenProcessPool.",
		Match: func(r Result) bool {
			m, x := slices.Contains(r.Model.Kinds, scenarios.ErrKindBroken), slices.Contains(r.Real.Kinds, scenarios.ErrKindBroken)
			return r.Scenario.Wait == scenarios.WaitMap && r.Model.Verdict == string(scenarios.Raised) &&
				r.Real.Verdict == string(realpools.Raised) && m != x && has(r.Scenario, breaksPool)
		},
	},
	{
		ID:    "torn-frame-vs-answer",
		Pair:  Pair{pools.FailFast, "py:ProcessPoolExecutor"},
		Cause: "race",
		Why: "One job's worker dies mid-frame (a death at result-write) and another job's fault would answer the caller first: it " +
			"breaks the pool (a death, a task that fails to unpickle) or, in a map, fails a job earlier in order. " +
			"concurrent/futures/process.py (3.11) _ExecutorManagerThread.wait_result_broken_or_wakeup reads a result itself once the " +
			"result pipe is readable (result_reader.recv()), so if the torn frame is in the pipe first the manager blocks in recv " +
			"for good: no later result is read and no death is seen (no answer); if the other fault's result or death is handled " +
			"first, the caller is answered (raised). Which comes first is the workers' race, on the model (whose manager reads the " +
			"same way, and whose dead writer also holds the result write lock) as on the real pool: replayed 10 times each, " +
			"`workers=2 jobs=3 wait=map fault=segfault@result-write:2 fault=raise@task-decode:1 fault=stuck@task-run:1` gave model " +
			"hang 3, raised 7, and real no-answer 9, raised 1.",
		Match: func(r Result) bool {
			hung := r.Model.Verdict == string(scenarios.Hang) || r.Real.Verdict == string(realpools.NoAnswer)
			raised := r.Model.Verdict == string(scenarios.Raised) || r.Real.Verdict == string(realpools.Raised)
			if !hung || !raised {
				return false
			}
			for _, f := range r.Scenario.Faults {
				if f.Phase == "result-write" && f.Job >= 0 && has(r.Scenario, func(g scenarios.Fault) bool { return g.Job != f.Job && g.Kind != "stuck" }) {
					return true
				}
			}
			return false
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

// managerGone: the real outcome's stacks show no thread in
// concurrent/futures/process.py, so ProcessPoolExecutor's manager thread
// has ended, and with jobs unanswered it ended by an exception.
func managerGone(o realpools.Outcome) bool {
	if len(o.Threads) == 0 {
		return false // no evidence gathered
	}
	for _, t := range o.Threads {
		if strings.Contains(strings.Join(t.Stack, "\n"), "concurrent/futures/process.py") {
			return false
		}
	}
	return true
}

// breaksPool: a fault that breaks a ProcessPoolExecutor once it strikes:
// a worker's death anywhere, or an exception outside the worker's guard
// (unpickling a task) or in the manager (reading a result).
func breaksPool(f scenarios.Fault) bool {
	switch {
	case f.Job < 0, f.Kind == "os-exit", f.Kind == "sigkill", f.Kind == "segfault":
		return true
	case f.Phase == "task-decode", f.Phase == "result-decode":
		return f.Kind != "stuck"
	}
	return false
}
