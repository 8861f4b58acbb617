package scenarios

import (
	"context"
	"errors"
	"fmt"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
)

// The call styles beyond map, get and join: how else a program drives a
// pool (issue 13).
const (
	// WaitCallback: apply_async per job with a callback and an
	// error_callback (ProcessPoolExecutor: submit, then
	// add_done_callback); the caller waits for every job's result and
	// callback. A callback that raises is fault=raise@callback:J.
	WaitCallback WaitStyle = "callback"
	// WaitIMap: one imap over the jobs; the caller calls next() until
	// StopIteration, recording each item's value or the error next()
	// raised. An input iterable that raises is fault=raise@input:J.
	WaitIMap WaitStyle = "imap"
	// WaitIMapUnordered: as WaitIMap, with imap_unordered.
	WaitIMapUnordered WaitStyle = "imap_unordered"
)

func (s Scenario) imap() bool { return s.Wait == WaitIMap || s.Wait == WaitIMapUnordered }

// validCallStyle: a caller's phase needs the call style that has it, and
// imap needs a pool that has one.
func (s Scenario) validCallStyle() error {
	if s.imap() && !s.Real() {
		if why := noIMap(s.Pool); why != "" {
			return fmt.Errorf("wait=%s: %s", s.Wait, why)
		}
		if s.ChunkSize > 1 && !s.Pool.Supports(pools.OptionChunkSize) {
			return fmt.Errorf("chunksize=%d: %s sends each task alone; imap takes a chunk size on %s", s.ChunkSize, s.Pool, poolsWith(pools.OptionChunkSize, "", ""))
		}
	}
	for _, f := range s.Faults {
		switch {
		case f.Phase == faults.Callback && s.Wait != WaitCallback:
			return fmt.Errorf("fault %s: a callback runs only with wait=callback (apply_async with callback and error_callback), not wait=%s", f, s.Wait)
		case f.Phase == faults.Input && !s.imap():
			return fmt.Errorf("fault %s: an input iterable is read lazily only with wait=imap or wait=imap_unordered, not wait=%s", f, s.Wait)
		}
	}
	return nil
}

// noIMap says why model strategy p has no imap, or "".
func noIMap(p pools.Strategy) string {
	if p == pools.FailFast {
		return "failfast (ProcessPoolExecutor) has no imap: Executor.map submits every item before it returns (`fs = [self.submit(fn, *args) for args in zip(*iterables)]`)"
	}
	if p == pools.Loky {
		return "loky's executor is a ProcessPoolExecutor: no imap, and its map submits every item before it returns"
	}
	if p == pools.Pebble {
		return "pebble's ProcessPool has schedule and map (which reads its whole input into chunks first), no imap"
	}
	return ""
}

// callerFault returns the job the scenario's fault at caller phase ph
// strikes, or -1.
func (s Scenario) callerFault(ph faults.Phase) map[int]bool {
	out := map[int]bool{}
	for _, f := range s.Faults {
		if f.Phase == ph {
			out[f.Job] = true
		}
	}
	return out
}

// errCallbackRaised is what the caller's callback raises at a
// raise@callback fault, as a program's callback raises.
var errCallbackRaised = errors.New("raise: an ordinary error in the callback")

// callCallbacks is wait=callback: apply_async(f, (i,), callback=cb,
// error_callback=cb) per job, then wait for every job and its callback;
// a job whose callback raised carries that error, as the caller recorded
// it.
func (r *run) callCallbacks(ctx context.Context, tasks []pools.Task) callerResult {
	raise := r.sc.callerFault(faults.Callback)
	cb := func(job int, _ pools.Result) error {
		if raise[job] {
			return errCallbackRaised
		}
		return nil
	}
	rs := make([]pools.Result, len(tasks))
	fs := make([]*pools.Future, len(tasks))
	for i, t := range tasks {
		f, err := r.p.Submit(ctx, t.WithCallback(cb))
		if err != nil {
			rs[i] = pools.Result{Err: err}
			continue
		}
		fs[i] = f
	}
	var live []*pools.Future
	for _, f := range fs {
		if f != nil {
			live = append(live, f)
		}
	}
	err := pools.WaitAll(ctx, live)
	for i, f := range fs {
		if f == nil {
			continue
		}
		res, ok := f.Result()
		var ce *pools.CallbackError
		switch {
		case !ok && interrupted(ctx):
			// A Ctrl-C ended the caller's wait for the callbacks
			// (Condition.wait raises KeyboardInterrupt on Python 3).
			res = pools.Result{Err: errInterrupted}
		case !ok:
			res = pools.Result{Err: errUnresolved}
		case f.CallbackErr() != nil && !errors.As(res.Err, &ce):
			// The caller's own record: its callback (or error callback)
			// raised, whatever the pool did with that.
			res = pools.Result{Err: &pools.CallbackError{Job: f.Job(), Err: f.CallbackErr()}}
		}
		rs[i] = res
	}
	return callerResult{rs, err}
}

// input is the caller's iterable: the jobs' tasks, raising at the
// targeted job of a raise@input fault.
type input struct {
	tasks []pools.Task
	raise map[int]bool
	next  int
}

func (in *input) Next() (pools.Task, bool, error) {
	i := in.next
	if i >= len(in.tasks) {
		return pools.Task{}, false, nil
	}
	if in.raise[i] {
		in.next = len(in.tasks) // a generator that raised is finished
		return pools.Task{}, false, fmt.Errorf("raise: the input iterable raised at item %d", i)
	}
	in.next++
	return in.tasks[i], true, nil
}

// callIMap is wait=imap and wait=imap_unordered: one imap, then next()
// until StopIteration. A job next() never delivered carries the error
// that ended the iteration (with chunks the first error ends it; an
// input that raised produced nothing after); with no such error, it is
// unresolved.
func (r *run) callIMap(ctx context.Context, tasks []pools.Task) callerResult {
	rs := make([]pools.Result, len(tasks))
	for i := range rs {
		rs[i] = pools.Result{Err: errUnresolved}
	}
	im, ok := r.p.(pools.IMapper)
	if !ok {
		return callerResult{rs, fmt.Errorf("scenario: %s has no imap", r.sc.Pool)}
	}
	in := &input{tasks: tasks, raise: r.sc.callerFault(faults.Input)}
	it, err := im.IMap(ctx, in, pools.IMapOptions{Unordered: r.sc.Wait == WaitIMapUnordered, ChunkSize: r.sc.ChunkSize})
	if err != nil {
		for i := range rs {
			rs[i] = pools.Result{Err: err}
		}
		return callerResult{rs, nil}
	}
	var last error
	for {
		item, more, err := it.Next(ctx)
		if err != nil {
			return callerResult{rs, err}
		}
		if !more {
			break
		}
		for k, job := range item.Jobs {
			if job < len(rs) {
				rs[job] = item.Results[k]
			}
			if e := item.Results[k].Err; e != nil {
				last = e
			}
		}
	}
	for i := range rs {
		switch {
		case rs[i].Err == errUnresolved && interrupted(ctx):
			rs[i] = pools.Result{Err: errInterrupted} // next() raised KeyboardInterrupt
		case rs[i].Err == errUnresolved && last != nil:
			rs[i] = pools.Result{Err: last}
		case rs[i].Err == errUnresolved:
			// The iteration ended without it: billiard's TaskHandler
			// answers an input that raises at job J with set_length(J),
			// so the imap ends after J items, none an error.
			rs[i] = pools.Result{Err: pools.ErrNotDelivered}
		}
	}
	return callerResult{rs, nil}
}

// CallerPhases lists the caller's phases a scenario with wait style w
// has: callback with wait=callback, input with imap's.
func CallerPhases(w WaitStyle) []faults.Phase {
	switch w {
	case WaitCallback:
		return []faults.Phase{faults.Callback}
	case WaitIMap, WaitIMapUnordered:
		return []faults.Phase{faults.Input}
	}
	return nil
}

// firstJobError is the first failed job's error in a real run, or nil.
func firstJobError(o realpools.Outcome) *realpools.PyError {
	for _, j := range o.Jobs {
		if j.Outcome == "error" {
			return &realpools.PyError{Class: j.Class, Message: j.Message}
		}
	}
	return nil
}

// StopsAtFirstError reports whether the scenario's caller stops waiting
// at the first error it gets: an imap with chunks, whose flattening
// generator ends there. A handler may die after that without the caller
// ever waiting on it.
func (s Scenario) StopsAtFirstError() bool { return s.imap() && s.ChunkSize > 1 }
