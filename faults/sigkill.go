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
		Phases: withResultWrite(processEnds, "the worker is killed after writing part of the result frame, holding the result write lock"),
		NotAt:  parentDies,
		Points: map[Phase]pools.Point{ResultEncode: pools.PointResultWrite},
	})
}

func withResultWrite(m map[Phase]string, why string) map[Phase]string {
	out := map[Phase]string{}
	for k, v := range m {
		out[k] = v
	}
	out[ResultEncode] = why
	return out
}
