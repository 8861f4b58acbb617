package faults

import (
	"errors"
	"syscall"

	"github.com/poolhang/poolhang/pools"
)

// sigkill: SIGKILL from outside (the OOM killer, kill -9). The worker
// stops at the point and reports it; the runner sends a real SIGKILL.
func init() {
	pools.RegisterAction("await-signal", func(s *pools.Strike) error {
		if !s.Worker {
			return errors.New("await-signal refused in the parent")
		}
		s.Await()
		return nil
	})
	Register(Kind{
		Name:   "sigkill",
		Models: "SIGKILL sent from outside (the OOM killer, kill -9)",
		Effect: Dies,
		Order:  40,
		Action: "await-signal",
		Signal: syscall.SIGKILL,
		Phases: union(processEnds, midFrame),
		NotAt:  parentDies,
	})
}
