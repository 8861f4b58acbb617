package faults

import (
	"fmt"

	"github.com/poolhang/poolhang/pools"
)

// reader-memory-error: the parent's result reader fails to allocate the
// targeted job's result body after reading its header (the seed's
// MemoryError in the result handler's get()). The body stays unread in
// the pipe.
func init() {
	pools.RegisterAction("alloc-fail", func(s *pools.Strike) error {
		return fmt.Errorf("%w: receiving the result of job %d", pools.ErrAllocation, s.Job)
	})
	Register(Kind{
		Name:   "reader-memory-error",
		Models: "MemoryError in the parent's result reader (the seed's second incident)",
		Effect: ReaderFails,
		Order:  60,
		Action: "alloc-fail",
		Phases: map[Phase]string{
			ResultDecode: "the reader has read the frame's header and cannot allocate its body",
		},
		NotAt: map[Phase]string{
			TaskEncode:     "it is the result reader's allocation that fails",
			TaskDecode:     "it is the parent's result reader that fails, not a worker",
			TaskRun:        "it is the parent's result reader that fails, not a worker",
			ResultEncode:   "it is the parent's result reader that fails, not a worker",
			ResultWrite:    "it is the parent's result reader that fails, not a worker",
			IdleLockHolder: "it is the parent's result reader that fails, not a worker",
			IdleLockWaiter: "it is the parent's result reader that fails, not a worker",
		},
		Points: map[Phase]pools.Point{ResultDecode: pools.PointResultAlloc},
	})
}
