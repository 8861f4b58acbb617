package faults

import (
	"errors"
	"syscall"

	"github.com/poolhang/poolhang/pools"
)

// Interrupted is the effect of a Ctrl-C: SIGINT to the parent and to every
// worker at once, each raising KeyboardInterrupt where it is (or ignoring
// it), and the caller's wait ending with KeyboardInterrupt where that wait
// is interruptible.
const Interrupted Effect = "interrupted"

// sigint: Ctrl-C at a terminal, which sends SIGINT to the whole foreground
// process group, parent and workers alike. The worker holding the job
// stops at the point and reports it; the runner then sends a real SIGINT
// to the pool's process group (the workers, never the harness) and models
// the parent's side: a caller whose wait is interruptible
// ([pools.Strategy.InterruptibleWaits]) gets KeyboardInterrupt at once; an
// uninterruptible one (2.6) stays blocked on whatever the workers leave.
// In each worker the KeyboardInterrupt is raised at its point, or wherever
// it is, and caught or not as the strategy's worker catches it.
func init() {
	pools.RegisterAction("await-sigint", func(s *pools.Strike) error {
		if !s.Worker {
			return errors.New("await-sigint refused in the parent")
		}
		return s.AwaitInterrupt()
	})
	notTimed := "the Ctrl-C is timed by the worker holding the job reaching its point; at a parent phase no worker holds it"
	idle := "a Ctrl-C while the pool is idle reaches the parent's main thread before it waits on the pool: the caller is interrupted before it calls, and no wait of the pool is tested"
	Register(Kind{
		Name:   "sigint",
		Models: "Ctrl-C: SIGINT to the whole process group, parent and workers alike, as a terminal sends it",
		Effect: Interrupted,
		Order:  80,
		Action: "await-sigint",
		Signal: syscall.SIGINT,
		Group:  true,
		Phases: map[Phase]string{
			TaskDecode:   "the Ctrl-C comes while the worker decodes the job it took",
			TaskRun:      "the Ctrl-C comes while the worker runs the job",
			ResultEncode: "the Ctrl-C comes while the worker encodes the job's result, before any byte is written",
		},
		NotAt: map[Phase]string{
			TaskEncode:     notTimed,
			ResultDecode:   notTimed,
			ResultWrite:    "KeyboardInterrupt is raised between bytecodes, and the result frame is written by one send",
			IdleLockHolder: idle,
			IdleLockWaiter: idle,
		},
	})
}
