package faults

import "github.com/poolhang/poolhang/pools"

// SysExitCode is the code of the exit request (sys.exit(2)).
const SysExitCode = 2

// sys-exit: Python's sys.exit(n) raised at the point: a SystemExit, which
// handlers catching BaseException catch and handlers catching Exception
// let through; uncaught, it ends the worker with code n.
func init() {
	pools.RegisterAction("sys-exit", func(s *pools.Strike) error {
		return &pools.ExitRequest{Code: SysExitCode}
	})
	Register(Kind{
		Name:   "sys-exit",
		Models: "sys.exit(2): an exit request that propagates like an exception",
		Effect: ExitRequest,
		Order:  20,
		Action: "sys-exit",
		Phases: map[Phase]string{
			TaskDecode:   "raised while the worker decodes the task, outside the call's guard",
			TaskRun:      "the task calls sys.exit",
			ResultEncode: "raised while the worker encodes the result",
			ResultDecode: "raised while the parent's reader decodes the result (CPython's 'exit at result unpickle')",
		},
		NotAt: map[Phase]string{
			ResultWrite:    noCodeMidFrame,
			TaskEncode:     "an exit request comes from task code; the parent's encoder runs none (CPython's deadlock tests inject only an ordinary error at task pickling)",
			IdleLockHolder: "an idle worker runs no task code that could call sys.exit",
			IdleLockWaiter: "an idle worker runs no task code that could call sys.exit",
		},
	})
}
