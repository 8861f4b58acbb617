package scenarios

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/poolhang/poolhang/pools"
)

// The ways a caller ends a pool after its jobs: terminate() and
// shutdown(). Each begins as wait=get does: submit every job, then get()
// each in order. A program bounds that wait (get(timeout=...),
// as_completed(timeout=...), or simply gives up); here the timeout is
// exact: it expires once the wait is proven stuck, and never if every job
// is answered, so the moment the caller moves on is decided by state, not
// by a clock. Then the caller ends the pool its way.
const (
	// WaitTerminate: then terminate() (multiprocessing.Pool.terminate).
	// Jobs still unanswered when it returns are "terminated": CPython
	// never sets their results, and the caller does not wait for them.
	WaitTerminate WaitStyle = "terminate"
	// WaitShutdown: then ProcessPoolExecutor.shutdown(wait=True), then
	// result() on each future.
	WaitShutdown WaitStyle = "shutdown"
	// WaitShutdownCancel: then shutdown(wait=False, cancel_futures=True),
	// then result() on each future.
	WaitShutdownCancel WaitStyle = "shutdown-cancel"
)

// endingStyles are the wait styles that end the pool after a bounded get.
func endingStyles() []WaitStyle { return []WaitStyle{WaitTerminate, WaitShutdown, WaitShutdownCancel} }

// Ends reports whether the wait style ends the pool itself (terminate or
// shutdown) after a get that gives up once it is proven stuck.
func (w WaitStyle) Ends() bool {
	for _, e := range endingStyles() {
		if w == e {
			return true
		}
	}
	return false
}

// ErrKindTerminateRaised is a job's kind when terminate() raised before
// it was answered (multiprocessing.Pool's AssertionError).
const ErrKindTerminateRaised = "terminate-raised"

// ErrKindCancelled is a job cancelled by shutdown(cancel_futures=True).
const ErrKindCancelled = "cancelled"

// noShutdown and noTerminate say why a pool lacks the call.
const (
	noShutdownPool = "multiprocessing.Pool has no shutdown(): close() then join() is wait=join, terminate() is wait=terminate"
	noTerminatePPE = "ProcessPoolExecutor (3.11) has no terminate(): its nearest is shutdown(wait=False, cancel_futures=True), wait=shutdown-cancel (terminate_workers() comes in 3.14)"
)

// WaitNA says why pool has no such call as wait style w, or "" if it has.
// It answers for models and real pools (py:...) alike.
func WaitNA(pool pools.Strategy, w WaitStyle) string {
	if why := waitNA(pool, w); why != "" {
		return why
	}
	// A call style is modelled for a strategy where its section argues
	// the strategy's expectations (section names are the styles').
	if _, err := pools.Lookup(pool); err == nil && w != WaitMap && w != WaitGet && w != WaitJoin {
		if _, ok := sections[string(w)]; ok && sectionExpectations[string(w)][pool] == nil {
			return "not modelled: the " + string(pool) + " model has no wait=" + string(w) + " yet (the real pools' columns show the libraries)"
		}
	}
	return ""
}

func waitNA(pool pools.Strategy, w WaitStyle) string {
	switch w {
	case WaitIMap, WaitIMapUnordered:
		return noIMap(pool)
	case WaitTerminate:
		switch pool {
		case pools.FailFast, "py:ProcessPoolExecutor":
			return noTerminatePPE
		}
	case WaitShutdown, WaitShutdownCancel:
		switch pool {
		case pools.Naive, pools.Respawn, "py:mp.Pool":
			return noShutdownPool
		case pools.Billiard, "py:billiard":
			return "billiard.Pool has no shutdown(): close() then join() is wait=join, terminate() is wait=terminate"
		case pools.Pebble, "py:pebble":
			return "pebble.ProcessPool has no shutdown(): close() then join() is wait=join, stop() then join() is wait=terminate"
		case pools.Loky, "py:loky":
			if w == WaitShutdownCancel {
				return "loky 3.3's shutdown(wait=True, kill_workers=False) has no cancel_futures"
			}
		}
	}
	return ""
}

// WaitStylesFor lists the wait styles pool has.
func WaitStylesFor(pool pools.Strategy) []WaitStyle {
	var out []WaitStyle
	for _, w := range WaitStyles() {
		if WaitNA(pool, w) == "" {
			out = append(out, w)
		}
	}
	return out
}

func waitList() string {
	var b []string
	for _, w := range WaitStyles() {
		b = append(b, string(w))
	}
	return strings.Join(b, ", ")
}

// validWait refuses a wait style the pool has no call for.
func (s Scenario) validWait() error {
	if why := WaitNA(s.Pool, s.Wait); why != "" {
		var have []string
		for _, w := range WaitStylesFor(s.Pool) {
			have = append(have, string(w))
		}
		return fmt.Errorf("wait=%s: %s; %s takes wait=%s", s.Wait, why, s.Pool, strings.Join(have, ", "))
	}
	return nil
}

// callThenEnd is the caller of an ending style: submit, get each job
// until every one is answered or the watcher proves the wait stuck
// (settle), then end the pool, then, after shutdown, result() each job.
func (r *run) callThenEnd(ctx context.Context, tasks []pools.Task) callerResult {
	rs := make([]pools.Result, len(tasks))
	fs := make([]*pools.Future, len(tasks))
	for i, t := range tasks {
		f, err := r.p.Submit(ctx, t)
		if err != nil {
			rs[i] = pools.Result{Err: err}
			continue
		}
		fs[i] = f
	}
	bounded, giveUp := context.WithCancel(ctx)
	defer giveUp()
	r.giveUp = giveUp
	r.endPhase.Store(phaseBoundedGet)
	for _, f := range fs {
		if f == nil {
			continue
		}
		if _, err := f.Wait(bounded); err != nil {
			break
		}
	}
	r.endPhase.Store(phaseEnding)
	var err error
	if ctx.Err() == nil {
		err = r.end(ctx)
	}
	if err == nil && r.sc.Wait != WaitTerminate {
		for _, f := range fs {
			if f == nil {
				continue
			}
			if _, err = f.Wait(ctx); err != nil {
				break
			}
		}
	}
	for i, f := range fs {
		if f == nil {
			continue
		}
		res, ok := f.Result()
		switch {
		case ok:
			rs[i] = res
		case ctx.Err() != nil:
			rs[i] = pools.Result{Err: errUnresolved}
		case err != nil:
			rs[i] = pools.Result{Err: err}
		default: // terminate() returned; the job's result is never set
			rs[i] = pools.Result{Err: pools.ErrTerminated}
		}
	}
	return callerResult{rs, err}
}

// end calls the pool's terminate() or shutdown().
func (r *run) end(ctx context.Context) error {
	switch r.sc.Wait {
	case WaitTerminate:
		t, ok := r.p.(pools.Terminator)
		if !ok {
			return fmt.Errorf("scenario: the %s pool has no terminate() call style", r.sc.Pool)
		}
		return t.CallTerminate(ctx)
	default:
		s, ok := r.p.(pools.Shutdowner)
		if !ok {
			return fmt.Errorf("scenario: the %s pool has no shutdown() call style", r.sc.Pool)
		}
		return s.Shutdown(ctx, pools.ShutdownOptions{Wait: r.sc.Wait == WaitShutdown, CancelFutures: r.sc.Wait == WaitShutdownCancel})
	}
}

// Where the caller of an ending style is.
const (
	phaseBoundedGet = 1 + iota // in its get, which gives up once proven stuck
	phaseMovingOn              // told to give up, still leaving that wait
	phaseEnding                // calling terminate() or shutdown(), then collecting
)

// settle is the watcher's turn on a proof that the caller is stuck. In
// the caller's bounded get, it ends that get (the caller then ends the
// pool) and notes it in the outcome, since that is the moment the run
// turns. While the caller is still leaving that wait, the proof is of a
// wait already given up. Either way it reports true: no verdict yet.
func (r *run) settle() bool {
	switch r.endPhase.Load() {
	case phaseMovingOn:
		return true
	case phaseBoundedGet:
	default:
		return false
	}
	if !r.endPhase.CompareAndSwap(phaseBoundedGet, phaseMovingOn) {
		return true // the caller has just left its get: look again
	}
	r.giveUp()
	what := "shutdown()"
	if r.sc.Wait == WaitTerminate {
		what = "terminate()"
	}
	r.notes = append(r.notes, "the caller's get() was proven stuck, so it gave up and called "+what)
	return true
}

// isTerminateRaised reports a job failed by terminate() raising.
func isTerminateRaised(err error) bool { return errors.Is(err, pools.ErrTerminateAssertion) }
