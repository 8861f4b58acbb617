package pools

import (
	"context"
	"fmt"
)

// A Callback is what a program hands to apply_async as its callback and
// error_callback, or to Future.add_done_callback: it gets the job's
// outcome (r.Err set for the error callback). The error it returns is the
// callback raising. Each strategy runs it where its real counterpart
// does, and does with its error what that counterpart does:
//
//   - naive (2.6) and respawn (3.11) run it on the result-handler thread
//     inside ApplyResult._set, before the result is marked ready
//     (`self._callback(self._value)`, then `self._event.set()`); nothing
//     catches its error (_handle_results catches only KeyError around
//     `cache[job]._set(i, obj)`), so the thread dies and the job stays
//     in the cache, unanswered (python/cpython issue 83371). 2.6 has no
//     error_callback: it calls the callback for a success only.
//   - failfast (3.11 ProcessPoolExecutor), loky (its Future catches
//     BaseException there) and pebble (a concurrent.futures Future set by
//     TaskManager.task_done) run it once the future is
//     resolved (Future.set_result, then _invoke_callbacks), for a value
//     or an error alike; _invoke_callbacks catches Exception and logs it
//     (LOGGER.exception), and the pool goes on.
//   - billiard (4.1) runs it on its result handler in ApplyResult._set
//     too, but after `self._event.set()` and the cache pop, through
//     safe_apply_callback, which catches Exception and logs it (`error(
//     'Pool callback raised exception: %r', ...)`): as failfast, the job
//     is answered and the pool goes on.
//   - tracked runs it as the job resolves; its error becomes that job's
//     result, a [*CallbackError], and nothing else changes (the design
//     python/cpython PR 155777 gives Pool for 3.16).
//
// A Callback is called with the pool's lock held: it must not call back
// into the pool.
type Callback func(job int, r Result) error

// WithCallback returns t with cb as its callback, for [User.Submit]
// (apply_async(..., callback=cb, error_callback=cb)). Map ignores it.
func (t Task) WithCallback(cb Callback) Task {
	t.callback = cb
	return t
}

// CallbackError is the error of a job whose callback raised, where the
// pool makes it the job's result (tracked), or as the caller records it.
type CallbackError struct {
	Job int
	Err error
}

func (e *CallbackError) Error() string {
	return fmt.Sprintf("the callback of job %d raised: %v", e.Job, e.Err)
}
func (e *CallbackError) Unwrap() error { return e.Err }

// CallbackErr returns the error job f's callback raised, if it ran and
// raised (failfast logs it and goes on; the caller may want it).
func (f *Future) CallbackErr() error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	return f.cbErr
}

// callbackMode is where a strategy runs callbacks.
type callbackMode uint8

const (
	// callbacksBefore: the strategy runs them itself before resolving
	// (ApplyResult._set); resolveLocked runs none.
	callbacksBefore callbackMode = iota
	// callbacksLogged: after resolving, for any outcome; an error is
	// logged and dropped (Future._invoke_callbacks).
	callbacksLogged
	// callbacksFailJob: as the job resolves; an error becomes its result.
	callbacksFailJob
)

// callbackLocked runs f's callback once, records its error and returns
// it. c.mu must be held.
func (c *core) callbackLocked(f *Future, r Result) error {
	if f.cb == nil || f.cbRan {
		return nil
	}
	f.cbRan = true
	f.cbErr = f.cb(f.job, r)
	c.reg.Bump()
	return f.cbErr
}

// callbackOnResolveLocked is the part of resolveLocked that callbacks change:
// it returns the result the job resolves with.
func (c *core) callbackOnResolveLocked(f *Future, r Result) Result {
	switch c.callbacks {
	case callbacksLogged:
		c.callbackLocked(f, r)
	case callbacksFailJob:
		if err := c.callbackLocked(f, r); err != nil {
			return Result{Err: &CallbackError{Job: f.job, Err: err}}
		}
	}
	return r
}

// WaitAll waits, as one caller, for every job of fs (futures of one
// pool), as a program that submitted them with callbacks waits for them
// all; it returns ctx's error if ctx ends first. Its recorded wait names
// no job: which job a caller blocks on first is a race of the results'
// order, and a proof should not depend on it.
func WaitAll(ctx context.Context, fs []*Future) error {
	if len(fs) == 0 {
		return nil
	}
	c := fs[0].c
	pending := func() bool {
		for _, f := range fs {
			if !f.isDone() {
				return true
			}
		}
		return false
	}
	w := c.enterWait(waitSpec{kind: WaitJobResult, what: fmt.Sprintf("the results and callbacks of %d jobs", len(fs)),
		releasers: c.resolverIDs, ready: func() bool { return !pending() }})
	defer c.leaveWait(w)
	for _, f := range fs {
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
