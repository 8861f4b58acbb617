package faults

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/pools"
)

// OSExitCode is the code os-exit ends a worker with.
const OSExitCode = 3

// os-exit: Python's os._exit(3), C's _exit(3): the process ends at once
// with exit_group(2); no handler runs.
func init() {
	pools.RegisterAction("os-exit", func(s *pools.Strike) error {
		if !s.Worker {
			return errors.New("os-exit refused in the parent")
		}
		unix.Exit(OSExitCode)
		return nil
	})
	Register(Kind{
		Name:   "os-exit",
		Models: "os._exit(3) / C exit: the process ends at once, nothing can catch it",
		Effect: Dies,
		Order:  30,
		Action: "os-exit",
		Phases: processEnds,
		NotAt: union(parentDies, map[Phase]string{
			ResultWrite: "os._exit is called by code, and no code runs between the bytes of one send",
		}),
	})
}
