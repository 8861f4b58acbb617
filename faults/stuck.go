package faults

import (
	"errors"

	"github.com/poolhang/poolhang/pools"
)

// stuck: the task never returns (a deadlock or an endless loop inside the
// function). The worker records that it stopped for good and blocks.
func init() {
	pools.RegisterAction("hang-forever", func(s *pools.Strike) error {
		if !s.Worker {
			return errors.New("hang-forever refused in the parent")
		}
		s.Hang()
		return nil
	})
	Register(Kind{
		Name:   "stuck",
		Models: "a task that never returns (a deadlock or an endless loop in the function)",
		Effect: NeverReturns,
		Order:  70,
		Action: "hang-forever",
		Phases: map[Phase]string{
			TaskRun: "the task function never returns",
		},
		NotAt: map[Phase]string{
			TaskEncode:     "stuck is task code that never returns; the parent's encoder runs none",
			TaskDecode:     "stuck is task code that never returns; decoding runs none",
			ResultEncode:   "stuck is task code that never returns; encoding the result runs none",
			ResultWrite:    "stuck is task code that never returns; writing the result runs none",
			ResultDecode:   "stuck is task code that never returns; the parent's decoder runs none",
			IdleLockHolder: "an idle worker runs no task code",
			IdleLockWaiter: "an idle worker runs no task code",
		},
	})
}
