package faults

import (
	"errors"

	"github.com/poolhang/poolhang/pools"
)

// Stops is the effect of a process that stops where it is: it neither runs
// nor dies, so no sentinel fires and no pipe closes; only a deadline, or
// someone who sends SIGCONT or SIGKILL, can end the wait for it.
const Stops Effect = "stops"

// sigstop: a real SIGSTOP (kill -STOP, a debugger attaching, a job-control
// stop that never gets its SIGCONT). The worker records in its slot where
// it stops, then stops itself with kill(getpid(), SIGSTOP), so the stop
// lands exactly at the point; the kernel then shows it in state T. Nobody
// continues it: the variant continued later is not modelled. A SIGKILL
// still ends a stopped process, so a deadline's kill and the teardown reap
// it as any other.
func init() {
	pools.RegisterAction("self-stop", func(s *pools.Strike) error {
		if !s.Worker {
			return errors.New("self-stop refused in the parent")
		}
		s.Stop()
		return nil
	})
	Register(Kind{
		Name:   "sigstop",
		Models: "SIGSTOP that is never followed by SIGCONT: the worker neither runs nor dies (state T)",
		Effect: Stops,
		Order:  75,
		Action: "self-stop",
		Phases: map[Phase]string{
			TaskDecode:     "the worker stops after taking the job off the queue",
			TaskRun:        "the worker stops inside the task function, holding the job",
			ResultEncode:   "the worker stops while it encodes the result, before any byte is written",
			ResultWrite:    "the worker stops after writing part of the result frame, holding the result write lock",
			IdleLockHolder: "an idle worker stops holding the task queue's read lock",
		},
		NotAt: union(map[Phase]string{
			TaskEncode:   "the parent encodes the task: a SIGSTOP would stop the harness, not a worker",
			ResultDecode: "the parent decodes the result: a SIGSTOP would stop the harness, not a worker",
			IdleLockWaiter: "not modelled yet: a stopped waiter for the read lock holds nothing, but with glibc's semaphores (sem_post wakes one waiter) " +
				"it can take the one wake-up a release sends and leave the other waiters asleep, which this model's lock (it wakes every waiter) would not show",
		}),
	})
}
