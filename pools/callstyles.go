package pools

import (
	"context"
	"errors"
)

// Call styles a program uses to end a pool, beside Close and Join: the
// terminate() of multiprocessing.Pool and the shutdown() of
// ProcessPoolExecutor. Unlike [User.Terminate], which is the harness's
// own teardown and works from any state, these do what the modelled
// pool's function does, and may block where it blocks.

// A Terminator is a pool whose users call terminate().
type Terminator interface {
	// CallTerminate is the pool's terminate() as its model follows it.
	// It returns ctx's error if ctx ends first, with the pool left as
	// it is (Terminate still ends it).
	CallTerminate(ctx context.Context) error
}

// A Shutdowner is a pool whose users call shutdown().
type Shutdowner interface {
	// Shutdown is ProcessPoolExecutor.shutdown(wait, cancel_futures) as
	// the pool's model follows it. With Wait it returns ctx's error if
	// ctx ends first, with the pool left as it is.
	Shutdown(ctx context.Context, o ShutdownOptions) error
}

// ShutdownOptions are shutdown()'s arguments.
type ShutdownOptions struct {
	// Wait: wait until the pool has ended (shutdown(wait=True)).
	Wait bool
	// CancelFutures: cancel every job not yet running
	// (shutdown(cancel_futures=True), Python 3.9+).
	CancelFutures bool
}

var (
	// ErrCancelled is set on a job cancelled by shutdown(cancel_futures=True)
	// (concurrent.futures.CancelledError).
	ErrCancelled = errors.New("cancelled by shutdown(cancel_futures=True)")
	// ErrTerminateAssertion is what multiprocessing.Pool.terminate raises
	// when the result handler has ended with jobs still pending
	// (_terminate_pool: "Cannot have cache with result_hander not alive";
	// an assert in 2.6). The workers are left running.
	ErrTerminateAssertion = errors.New("AssertionError: Cannot have cache with result_hander not alive")
)
