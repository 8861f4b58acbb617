package scenarios

import (
	"fmt"
	"strings"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// SectionMaxTasks is the tasks-per-worker limit of the maxtasks section:
// with 2 workers and 6 jobs, each first worker retires after 2 tasks, so
// 2 jobs are left for replacements.
const SectionMaxTasks = 2

func init() {
	DefineSection(Section{
		Name: "maxtasks", Order: 20,
		Title: fmt.Sprintf("workers retire after %d tasks (maxtasks=%d)", SectionMaxTasks, SectionMaxTasks),
		Doc: "`multiprocessing.Pool(maxtasksperchild=2)`: 3.11's `worker(..., maxtasks)` leaves its loop after 2 tasks and " +
			"`_handle_workers`/`_maintain_pool` (`_repopulate_pool_static`) starts a replacement. " +
			"`ProcessPoolExecutor(max_tasks_per_child=2)` (3.11+; it needs a start method other than fork, so the driver's real pool spawns): " +
			"`_process_worker(..., max_tasks)` sends its pid with its last result and returns, the manager " +
			"(`_ExecutorManagerThread.run`, `process_result_item`) pops it and calls `_adjust_process_count`, which starts a " +
			"replacement only if it cannot take a token of `_idle_worker_semaphore`, released after every other result: " +
			"a stale token leaves the retired worker unreplaced (python/cpython issue 115634, in 3.11 to 3.13/3.14 before gh-140900), " +
			"which every job row shows. The job fault is aimed at job 5, the last, past every first worker's limit. billiard's `Pool(maxtasksperchild=2)`: `Worker.workloop` returns EX_RECYCLE (155) after 2 tasks, " +
			"and `_join_exited_workers` marks the map lost at each retirement, as at a death; the billiard model runs this section with a lost-worker grace of " + RetireGrace.String() +
			" (RetireGrace) instead of " + ModelGrace.String() + ": the replacements' run of job 5 comes first by a wide margin, as it does against billiard's 10 s. " +
			"pebble's `ProcessPool(max_tasks=)` retires workers too; loky has no such option.",
		// No idle row: under max_tasks_per_child 3.11's executor spawns on
		// demand, and a worker that has retired after the warm-up tasks
		// is not replaced (the same 115634), so there is no second idle
		// worker to strike in the real pool.
		Rows: []Row{{"raise", faults.TaskRun}, {"sigkill", faults.TaskRun}},
		Shape: func(sc Scenario) Scenario {
			sc.MaxTasks = SectionMaxTasks
			// The job fault moves to the last job, past every first
			// worker's limit: it strikes in a replacement, if any. Aimed
			// at job 2, a map that raises at its first failed job in order
			// (Executor.map's result_iterator) would answer before the
			// stranded jobs are waited for.
			sc.Faults = append([]Fault(nil), sc.Faults...)
			for i, f := range sc.Faults {
				if f.Job >= 0 {
					sc.Faults[i].Job = sc.Jobs - 1
				}
			}
			return sc
		},
		NA: MaxTasksNA,
	})
	expectSection("maxtasks", pools.Respawn, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, "each first worker leaves its loop after 2 tasks (3.11 worker: `while maxtasks is None or (maxtasks and completed < maxtasks)`), exit code 0, and _maintain_pool replaces it; job 5 runs in a replacement and its error is its result"+mapRaises3x),
		{dies, faults.TaskRun}:   hang("the retired workers are replaced, and job 5 runs in a replacement, which is killed holding it: " + strings.Replace(lostJob27, "job 2", "job 5", 1)),
	})
	const stranded = "python/cpython issue 115634: each worker's first result releases a token of _idle_worker_semaphore; at its second task it retires " +
		"(exit_pid) and _adjust_process_count takes a token instead of starting a replacement; once both have retired, jobs 4 and 5 wait on the call queue " +
		"with no worker left (3.11 process.py), so job 5's fault never strikes. It needs every submit of the map before the manager takes a result " +
		"(a submit after a result takes its token, and the retired worker is replaced): CPython does not force that order, but Executor.map submits in a " +
		"list comprehension and the spawned workers answer long after (here 6 submits took 2-10 ms and the first result came 26-41 ms after the first submit; " +
		"py:ProcessPoolExecutor gave no answer in 20 runs of 20), so the model holds its manager until the map's last submit (pools/failfast_retire.go, mapSubmit)"
	expectSection("maxtasks", pools.FailFast, map[When]Expectation{
		{raises, faults.TaskRun}: hang(stranded),
		{dies, faults.TaskRun}:   hang(stranded),
	})
}
