package faults

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/pools"
)

// ExitsClean is the effect of a process that ends with exit code 0 while
// it holds a job: no signal, no error code, nothing a pool that reads the
// code could tell from a worker retiring on purpose.
const ExitsClean Effect = "exits-clean"

// exit0: C's exit(0) (or os._exit(0)) called while the worker holds a job,
// the way a library that "cleans up" on an error, or loky's crash test
// with libc exit(0), ends a process: exit_group(0), so the wait status says
// exited with code 0. Pools that take code 0 for a retirement (pebble's
// handle_worker_expiration skips workers whose exitcode is 0) lose the job
// without a word; the models here do not read the code (see their
// expectations), and tracked must fail the job alone.
func init() {
	pools.RegisterAction("exit-clean", func(s *pools.Strike) error {
		if !s.Worker {
			return errors.New("exit-clean refused in the parent")
		}
		unix.Exit(0)
		return nil
	})
	Register(Kind{
		Name:   "exit0",
		Models: "exit(0) while holding a job: the worker ends with a clean exit code, as a retiring worker does",
		Effect: ExitsClean,
		Order:  35,
		Action: "exit-clean",
		Phases: map[Phase]string{
			TaskDecode:   "the worker exits with code 0 after taking the job off the queue",
			TaskRun:      "the task function calls exit(0), holding the job",
			ResultEncode: "the worker exits with code 0 while it encodes the result, before any byte is written",
		},
		NotAt: union(parentDies, map[Phase]string{
			ResultWrite:    "exit(0) is called by code, and no code runs between the bytes of one send",
			IdleLockHolder: "the kind is a clean exit while holding a job; an idle worker holds none (an idle worker's exit is os-exit's idle cells)",
			IdleLockWaiter: "the kind is a clean exit while holding a job; an idle worker holds none (an idle worker's exit is os-exit's idle cells)",
		}),
	})
}
