package faults

import (
	"errors"

	"github.com/poolhang/poolhang/pools"
)

// parent-killed: the pool's parent process is killed by SIGKILL (the OOM
// killer, kill -9 of the program) while a worker runs the targeted job.
// The caller dies with the parent; the question is the workers' fate
// (python/cpython issue 111873): do they end, because the task pipe
// reads end-of-file or the result pipe fails with EPIPE once no other
// process holds its other end, or do they stay blocked for good as
// orphans? The worker reports that it reached task-run and waits, on a
// pidfd, until its parent has died; then its task goes on and returns
// its value, and the pool's own code decides. The harness runs such a
// scenario under a child subreaper (scenarios.runParentKilled), which
// adopts the orphans, proves each one's fate and ends them all.
func init() {
	pools.RegisterAction("await-parent-death", func(s *pools.Strike) error {
		if !s.Worker {
			return errors.New("await-parent-death refused in the parent")
		}
		s.AwaitParentDeath()
		return nil
	})
	Register(Kind{
		Name:   "parent-killed",
		Models: "the pool's parent is killed by SIGKILL while a worker runs a task (the OOM killer, kill -9): do the workers end, or stay as orphans?",
		Effect: ParentDies,
		Order:  90,
		Action: "await-parent-death",
		Phases: map[Phase]string{
			TaskRun: "the parent is killed while a worker runs job 2; that worker then finishes it",
		},
		NotAt: map[Phase]string{
			TaskEncode:     "the parent encodes the task: a parent killed there has no worker mid-task",
			TaskDecode:     "the worker decodes the task: parent-killed strikes with the job under way (task-run)",
			ResultEncode:   "parent-killed strikes with the job under way (task-run); what the worker does next is the pool's",
			ResultWrite:    "parent-killed strikes with the job under way (task-run); what the worker does next is the pool's",
			ResultDecode:   "the parent decodes the result: the job is no longer in a worker",
			IdleLockHolder: "parent-killed strikes with workers mid-task (task-run)",
			IdleLockWaiter: "parent-killed strikes with workers mid-task (task-run)",
		},
	})
}
