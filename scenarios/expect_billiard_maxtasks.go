package scenarios

import (
	"fmt"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// RetireGrace is the billiard model's lost-worker grace in a scenario
// whose workers retire (maxtasks=N), in place of ModelGrace.
//
// billiard 4.1 marks a map lost when a worker that acknowledged any of
// its chunks retires (Pool._join_exited_workers: EX_RECYCLE is an exit
// like any other, and MapResult.worker_pids keeps answered chunks' pids),
// and fails it with WorkerLostError if it is still pending a grace later.
// Whether a map outlives a retirement by the grace is then a race between
// the grace and the replacements' run of the jobs left. billiard's 10 s
// grace decides it for any map of quick tasks (its Supervisor forks the
// replacement in the same pass that marks the map). ModelGrace's 100 ms
// would leave it to the machine's load: in the maxtasks section's raise
// cell, from the last retirement's mark to job 5's answer took a median of
// 2.7 ms and at most 12 ms in 100 runs on 2 cores that other sessions kept
// busy (load average about 10), and a median of 5.9 ms and at most 30 ms
// in 100 runs with four spinners more: 1 s is 33 times the worst. The
// grace comes from the scenario (maxtasks=), so its reproduce command runs
// with it too. It costs a worker-lost cell of the section 1 s.
const RetireGrace = time.Second

// retireGrace is the grace a scenario's pool runs with, given the one it
// would run with otherwise (ModelGrace, or 0 for a pool without one).
func retireGrace(sc Scenario, grace time.Duration) time.Duration {
	if sc.MaxTasks > 0 && grace > 0 {
		return RetireGrace
	}
	return grace
}

// billiard under maxtasksperchild (billiard 4.1, billiard/pool.py):
// Worker.workloop runs `while maxtasks is None or (maxtasks and completed
// < maxtasks)` and returns EX_RECYCLE (155), which Worker.__call__ exits
// with; the Supervisor's _maintain_pool cleans it (_join_exited_workers)
// and starts a replacement (_repopulate_pool; EX_RECYCLE does not count
// as a restart).
func init() {
	retired := fmt.Sprintf("each first worker leaves Worker.workloop after 2 tasks and exits with EX_RECYCLE (155); _join_exited_workers cleans it like any exited worker "+
		"and, since MapResult.worker_pids keeps the pids of answered chunks, marks the map lost (on_job_process_lost: `job._worker_lost = (monotonic(), exitcode)`), "+
		"though no worker died; the next retirement marks it again; _repopulate_pool starts the replacements, and job 5 runs in one. "+
		"The grace here is RetireGrace (%s; billiard's LOST_WORKER_TIMEOUT is 10 s), not ModelGrace: far longer than a replacement takes to start and run job 5, under load too", RetireGrace)
	expectSection("maxtasks", pools.Billiard, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, retired+"; Worker.workloop catches the Exception and sends it as job 5's READY, and MapResult._set's failure branch "+
			"makes the map ready with it at once, before the grace has passed, so mark_as_worker_lost never runs"),
		{dies, faults.TaskRun}: raised(ErrKindWorkerLost, retired+"; its worker acknowledged job 5 and is killed running it; the pass that cleans it marks the map lost again "+
			"(`pid in cleaned or pid not in all_pids` over worker_pids: the first gone pid is a retired worker's, cleaned in an earlier pass, so "+
			"`exitcodes.get(acked_by_gone) or 0` records exit code 0, as the real pool's 'Worker exited prematurely: exitcode 0 Job: 0.' says), which restarts the grace, "+
			"and once it has passed mark_as_worker_lost fails the whole map with WorkerLostError (the model answers RetireGrace after the kill, the real pool about 10 s after it)"),
	})
}
