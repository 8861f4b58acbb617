package pools

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrBrokenPool is set on every pending job, and returned by every later
	// submit, once a fail-fast pool breaks (BrokenProcessPool).
	ErrBrokenPool = errors.New("pool is broken: a worker died or a result could not be read")
	// ErrTerminated is set on jobs still pending when the pool is terminated.
	ErrTerminated = errors.New("pool terminated")
	// ErrClosed is returned by Submit after Close.
	ErrClosed = errors.New("pool is closed")
	// ErrRestartBudget is returned when a pool would restart more workers
	// than its budget allows.
	ErrRestartBudget = errors.New("worker restart budget exhausted")
)

// TaskError is an ordinary error raised by a task or at a point (Python's
// Exception), as the parent received it.
type TaskError struct {
	Msg string
}

func (e *TaskError) Error() string { return e.Msg }

// ExitRequest models Python's SystemExit: a value that propagates like an
// error, which handlers that catch everything (BaseException) catch and
// handlers that catch ordinary errors (Exception) let through. Uncaught in a
// worker, it ends the process with Code.
type ExitRequest struct {
	Code int
}

func (e *ExitRequest) Error() string { return fmt.Sprintf("exit request (SystemExit: %d)", e.Code) }

// IsExitRequest reports whether err is, or wraps, an exit request.
func IsExitRequest(err error) bool {
	var x *ExitRequest
	return errors.As(err, &x)
}

// EncodeError is set on a job whose task or result could not be encoded,
// like 3.x Pool's handling of pickling errors (MaybeEncodingError).
type EncodeError struct {
	What string // "task" or "result"
	Err  error
}

func (e *EncodeError) Error() string { return fmt.Sprintf("error encoding %s: %v", e.What, e.Err) }
func (e *EncodeError) Unwrap() error { return e.Err }

// ReadError is why a parent could not read a result frame.
type ReadError struct {
	Job int // -1 when not known
	Err error
}

func (e *ReadError) Error() string {
	if e.Job < 0 {
		return fmt.Sprintf("reading result: %v", e.Err)
	}
	return fmt.Sprintf("reading result of job %d: %v", e.Job, e.Err)
}
func (e *ReadError) Unwrap() error { return e.Err }

// WorkerLost is the error of a job whose worker died while holding it.
type WorkerLost struct {
	PID    int
	Status Exit
	// Phase is where the worker was with the job: "task-decode",
	// "task-run", "result-encode" or "result-write", from the worker's slot.
	Phase string
	// Attempts is how many times the job ran (with retries).
	Attempts int
}

func (e *WorkerLost) Error() string {
	how := e.Status.String()
	if e.Status == (Exit{}) && e.Phase != wExiting.phase() {
		// What a retiring worker leaves; said outright, since a pool that
		// reads only the code takes it for a retirement (pebble 5.0). A
		// worker named while exiting held no job: billiard names a
		// retired worker's pid with exit code 0 (lostExit).
		how = "a clean exit (exit code 0) while it held the job"
	}
	return fmt.Sprintf("worker %d lost during %s: %s (attempt %d)", e.PID, e.Phase, how, e.Attempts)
}

// DeadlineError is the error of a job that ran past Options.TaskTimeout:
// its worker was killed. It matches context.DeadlineExceeded.
type DeadlineError struct {
	PID     int
	Timeout time.Duration
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("task ran past its %s deadline; worker %d killed", e.Timeout, e.PID)
}
func (e *DeadlineError) Unwrap() error { return context.DeadlineExceeded }
