package faults

import (
	"errors"

	"github.com/poolhang/poolhang/pools"
)

// fork-held-lock: a lock that another thread of the parent held at the
// moment of fork() (logging's module lock, a malloc arena, a BLAS thread
// pool's) is inherited held: the child's copy of the lock word says a
// thread holds it that does not exist in the child, and the child blocks
// on it before its first task, for good (python/cpython issue 105464).
// Our workers are started by re-exec, not fork, so the inheritance is
// made explicit: each of the pool's first workers starts with a real
// lock word in its own memory that says thread N of the parent (the
// thread that started the pool) holds it, and blocks on it in futex(2).
// No process or thread can release it: the word is the worker's own
// copy, and its holder is a thread of another process. A worker started
// later (a replacement) does not: the moment of the held lock has passed.
func init() {
	pools.RegisterAction("inherited-lock", func(s *pools.Strike) error {
		if !s.Worker {
			return errors.New("inherited-lock refused in the parent")
		}
		s.BlockOnInheritedLock(s.Arg)
		return nil
	})
	Register(Kind{
		Name:   "fork-held-lock",
		Models: "fork() while another parent thread holds a lock: each new worker inherits it held and blocks before its first task (python/cpython issue 105464)",
		Effect: BlocksAtStart,
		Order:  100,
		Action: "inherited-lock",
		Phases: map[Phase]string{
			WorkerStart: "each of the pool's first workers blocks at its start on a lock its parent's thread held at fork",
		},
		NotAt: map[Phase]string{
			TaskEncode:     "the lock is inherited at the worker's start, before any task exists",
			TaskDecode:     "the lock is inherited at the worker's start, before any task exists",
			TaskRun:        "the lock is inherited at the worker's start, before any task exists",
			ResultEncode:   "the lock is inherited at the worker's start, before any task exists",
			ResultWrite:    "the lock is inherited at the worker's start, before any task exists",
			ResultDecode:   "the lock is inherited at the worker's start, before any task exists",
			IdleLockHolder: "the worker blocks before it ever waits for a task, so it holds no read lock",
			IdleLockWaiter: "the lock is inherited at the worker's start, not while it is idle",
		},
	})
}
