package faults

import (
	"errors"

	"github.com/poolhang/poolhang/pools"
)

// StopsThenContinues is the effect of a process that stops where it is and
// is continued later: while stopped it neither runs nor dies, as with
// [Stops]; once continued it goes on from the point as if nothing had
// happened, unless something ended it meanwhile (a deadline's SIGKILL).
const StopsThenContinues Effect = "stops-then-continues"

// sigstop-cont: a real SIGSTOP followed later by a real SIGCONT (Ctrl-Z
// then fg, a debugger that attaches and detaches, a cgroup freezer
// thawed). The worker records in its slot where it stops, with a mark
// that says it will be continued, and stops itself with kill(getpid(),
// SIGSTOP), as sigstop does; once continued it clears its slot and its
// code goes on from the point.
//
// When is "later"? Not after a sleep, which would make the verdict depend
// on how fast the pool is. The runner sends SIGCONT at a named point: the
// first moment the stopped worker is all that keeps the caller waiting,
// that is when the proof (scenarios/proof.go) shows the caller stuck,
// counting the stopped worker as unable to move, on two consistent
// snapshots with no progress between them: the very state in which a
// sigstop run is declared hung. Everything the pool could do without the
// stopped worker it has then done (noticed it, or not), so the SIGCONT
// tells apart the pools that gave up on the worker from those that only
// waited for it. A pool with a per-task deadline (tracked) never reaches
// that point: the deadline is a releaser of the stopped worker's wait, so
// the caller is not proven stuck, and the deadline's SIGKILL ends the
// stopped worker before any SIGCONT. In the real driver the same point is
// read from the kernel: the stopped worker in state T, every other live
// worker blocked in a system call, and no event or answer for a settle
// shorter than the driver's stall limit.
func init() {
	pools.RegisterAction("self-stop-cont", func(s *pools.Strike) error {
		if !s.Worker {
			return errors.New("self-stop-cont refused in the parent")
		}
		s.StopUntilContinued()
		return nil
	})
	Register(Kind{
		Name:   "sigstop-cont",
		Models: "SIGSTOP followed by SIGCONT once nothing else can move: the worker is stopped (state T), then goes on from where it stopped",
		Effect: StopsThenContinues,
		Order:  76,
		Action: "self-stop-cont",
		Phases: map[Phase]string{
			TaskDecode:     "the worker stops after taking the job off the queue, and decodes it once continued",
			TaskRun:        "the worker stops inside the task function, holding the job, and finishes it once continued",
			ResultEncode:   "the worker stops while it encodes the result, before any byte is written, and sends it once continued",
			ResultWrite:    "the worker stops after writing part of the result frame, holding the result write lock, and writes the rest once continued",
			IdleLockHolder: "an idle worker stops holding the task queue's read lock, and reads on once continued",
		},
		NotAt: union(map[Phase]string{
			TaskEncode:   "the parent encodes the task: a SIGSTOP would stop the harness, not a worker",
			ResultDecode: "the parent decodes the result: a SIGSTOP would stop the harness, not a worker",
			IdleLockWaiter: "not modelled yet, as for sigstop: with glibc's semaphores a stopped waiter can take the one wake-up a release sends, " +
				"which this model's lock (it wakes every waiter) would not show",
		}),
	})
}
