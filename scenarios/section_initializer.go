package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

func init() {
	DefineSection(Section{
		Name: "initializer", Order: 30,
		Title: "an initializer that raises (initializer=raise)",
		Doc: "`Pool(initializer=f)` and `ProcessPoolExecutor(initializer=f)` where `f` raises in every worker. 3.11's " +
			"`multiprocessing.pool.worker` calls it unguarded: the worker dies of it (exit code 1) and `_maintain_pool` " +
			"starts another, forever (python/cpython issue 87472): the verdict is `livelock`, proven from the recorded state " +
			"(scenarios/livelock.go), not from a count of restarts. 2.6's Pool has an initializer too but never replaces a " +
			"worker. 3.11's `_process_worker` catches it (`LOGGER.critical('Exception in initializer:')`) and returns without " +
			"the exit message a retiring worker sends, so the manager sees an abrupt death and breaks the pool. The tracked " +
			"design replaces each dead worker within its restart budget, then fails every pending job. No task ever runs, so " +
			"the row's fault never strikes: it is the control case.",
		Rows: []Row{{"raise", faults.TaskRun}},
		Shape: func(sc Scenario) Scenario {
			sc.Initializer = InitRaise
			return sc
		},
		NA: InitializerNA,
	})
	expectSection("initializer", pools.Naive, map[When]Expectation{
		{raises, faults.TaskRun}: hang("2.6's worker calls the initializer unguarded: every worker dies of it before its first task, and 2.6 never replaces a worker; the tasks wait in the task pipe with no reader"),
	})
	expectSection("initializer", pools.Respawn, map[When]Expectation{
		{raises, faults.TaskRun}: {Verdict: Livelock, Reason: "3.11's worker calls the initializer unguarded: every worker dies of it before its first task, and _maintain_pool starts another, forever (python/cpython issue 87472): no job is ever taken"},
	})
	expectSection("initializer", pools.FailFast, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindBroken, "3.11's _process_worker catches the initializer's error, logs it and returns without sending its exit pid: the manager sees an abrupt death and breaks the pool (terminate_broken), so every job fails with BrokenProcessPool"),
	})
	expectSection("initializer", pools.Tracked, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindRestart, "each worker dies in its initializer and the supervisor replaces it until its restart budget (4*workers+8) is spent; then it fails fast: every pending job fails with ErrRestartBudget"),
	})
}
