package faults

import (
	"fmt"

	"github.com/poolhang/poolhang/pools"
)

// raise: the control case. Code at the point returns an ordinary error, as
// a Python object whose pickling or unpickling raises, or a task that
// raises an Exception.
func init() {
	pools.RegisterAction("raise", func(s *pools.Strike) error {
		return fmt.Errorf("raise: an ordinary error at %s of job %d", s.At, s.Job)
	})
	Register(Kind{
		Name:   "raise",
		Models: "an ordinary error (Python's Exception) raised at the point",
		Effect: Raises,
		Order:  10,
		Action: "raise",
		Phases: map[Phase]string{
			TaskEncode:   "encoding the task fails in the parent (an unpicklable argument)",
			TaskDecode:   "decoding the task fails in the worker, outside the call's guard",
			TaskRun:      "the task raises",
			ResultEncode: "encoding the result fails in the worker (an unpicklable result)",
			ResultDecode: "decoding the result fails in the parent's reader",
			Callback:     "the job's callback (or error_callback) raises, on the pool's thread that runs it",
			Input:        "the imap's input iterable raises instead of producing the job",
		},
		NotAt: map[Phase]string{
			ResultWrite:    noCodeMidFrame,
			IdleLockHolder: "an idle worker runs no task code that could raise",
			IdleLockWaiter: "an idle worker runs no task code that could raise",
		},
	})
}
