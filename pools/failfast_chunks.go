package pools

import (
	"context"
	"fmt"
)

// MapChunks follows ProcessPoolExecutor.map(fn, *iterables, chunksize=N)
// (concurrent/futures/process.py, CPython 3.11):
//
//	results = super().map(partial(_process_chunk, fn),
//	                      _get_chunks(*iterables, chunksize=chunksize),
//	                      timeout=timeout)
//	return _chain_from_iterable_of_lists(results)
//
// _get_chunks cuts the jobs into tuples of chunksize; each chunk is one
// submit, so one work item, one call item on the call queue and one task
// frame (the frame Pool.map's chunks use: encodeChunk). Its worker runs
// _process_chunk, `[fn(*args) for args in chunk]`: the first error ends
// the chunk, the calls after it never run, and the chunk's future carries
// the error. Executor.map's result_iterator (see Map) then waits for the
// chunks in order and raises at the first failed one, cancelling the
// later chunks still PENDING; _chain_from_iterable_of_lists yields a
// chunk's values only once its whole list is in, so every job of the
// failed chunk, those computed before the error included, is answered by
// that error alone. chunksize 0 or 1 is Map: PPE's default is 1.
func (p *failFast) MapChunks(ctx context.Context, ts []Task, chunksize int) ([]Result, error) {
	if chunksize < 0 {
		return make([]Result, len(ts)), fmt.Errorf("pools: chunksize %d: want 1 or more (0 for ProcessPoolExecutor's default, 1)", chunksize)
	}
	if chunksize <= 1 {
		return p.Map(ctx, ts)
	}
	out := make([]Result, len(ts))
	heads, all, err := p.submitChunks(ctx, ts, chunksize)
	if err != nil {
		// A submit that raises (a broken pool) raises out of map at
		// once; the chunks already submitted are not delivered.
		for j := range out {
			out[j] = Result{Err: err}
			if j < len(heads)*chunksize {
				out[j].Err = ErrNotDelivered
			}
		}
		if err == ctx.Err() {
			return out, err
		}
		return out, nil
	}
	chunkOut := make([]Result, len(heads))
	k, err := p.waitInOrder(ctx, heads, chunkOut, true)
	// _chain_from_iterable_of_lists: a chunk's values, job by job.
	for c := range heads {
		if k >= 0 && c > k {
			break
		}
		for i := c * chunksize; i < min((c+1)*chunksize, len(ts)); i++ {
			out[i] = chunkOut[c]
			if r, ok := all[i].Result(); ok && chunkOut[c].Err == nil {
				out[i] = r
			}
		}
	}
	if err != nil || k < 0 {
		return out, err
	}
	p.mu.Lock()
	cancelled := p.cancelLocked(heads[k+1:])
	p.mu.Unlock()
	for c := k + 1; c < len(heads); c++ {
		for i := c * chunksize; i < min((c+1)*chunksize, len(ts)); i++ {
			out[i] = Result{Err: ErrNotDelivered}
			if cancelled[heads[c].job] {
				out[i].Err = ErrMapCancelled
			}
		}
	}
	return out, nil
}

// submitChunks submits each chunk as one work item, under one hold of
// core.mu so that the chunk's jobs are consecutive: a worker numbers a
// chunk's calls job, job+1, ... (worker.run), and a fault aimed at a job
// strikes in its call. It returns each chunk's future, its head's; the
// other jobs of a chunk are in the cache too (all, in job order), so that
// a broken pool fails them, but only the head's future is the work item's.
func (p *failFast) submitChunks(ctx context.Context, ts []Task, chunksize int) (heads, all []*Future, err error) {
	calls, err := wireTasks(ts)
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if p.broken != nil {
		return nil, nil, p.broken
	}
	if p.closing || p.stopped() {
		return nil, nil, ErrClosed
	}
	if p.chunkLen == nil {
		p.chunkLen = map[int]int{}
	}
	for i := 0; i < len(calls); i += chunksize {
		end := min(i+chunksize, len(calls))
		for j := i; j < end; j++ {
			f := p.newFutureLocked()
			ownedBy(calls[j].Trigs, f.job)
			all = append(all, f)
		}
		head := all[i]
		p.chunkLen[head.job] = end - i
		heads = append(heads, head)
		p.workIDs = append(p.workIDs, queued{job: head.job, t: calls[i], chunk: calls[i:end]})
		p.adjustOnSubmitLocked()
	}
	notify(p.wake)
	return heads, all, nil
}

// resolveChunkLocked resolves a chunk work item: the head's future takes
// the chunk's outcome (its first value, or its error), and each job of the
// chunk its own value. A job that is not a chunk's
// head resolves alone. It reports whether the work item was pending.
func (p *failFast) resolveChunkLocked(job int, r wireResult) bool {
	n, ok := p.chunkLen[job]
	if !ok {
		return p.resolveLocked(job, Result{Value: r.Value, Err: resultErr(r)})
	}
	delete(p.chunkLen, job)
	err := resultErr(r)
	if err == nil && len(r.Values) != n {
		err = fmt.Errorf("pools: a chunk of %d jobs returned %d values", n, len(r.Values))
	}
	for k := 1; k < n; k++ {
		res := Result{Err: err}
		if err == nil {
			res = Result{Value: r.Values[k]}
		}
		p.resolveLocked(job+k, res)
	}
	res := Result{Err: err}
	if err == nil {
		res = Result{Value: r.Values[0]}
	}
	return p.resolveLocked(job, res)
}

// failChunkLocked resolves every job of the chunk whose head is job with
// err (a cancelled chunk, or one that failed to encode).
func (p *failFast) failChunkLocked(job int, err error) bool {
	n, ok := p.chunkLen[job]
	if !ok {
		return p.resolveLocked(job, Result{Err: err})
	}
	delete(p.chunkLen, job)
	for k := 1; k < n; k++ {
		p.resolveLocked(job+k, Result{Err: err})
	}
	return p.resolveLocked(job, Result{Err: err})
}

// MapChunks is the current executor's MapChunks.
func (r *reusable) MapChunks(ctx context.Context, ts []Task, chunksize int) ([]Result, error) {
	return r.current().MapChunks(ctx, ts, chunksize)
}
