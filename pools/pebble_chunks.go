package pools

import (
	"context"
	"fmt"

	"github.com/poolhang/poolhang/pools/internal/frame"
)

// MapChunks follows ProcessPool.map(function, iterable, chunksize=N)
// (pebble 5.0, pebble/pool/process.py and base_pool.py):
//
//	futures = [self.schedule(process_chunk, args=(function, chunk), timeout=timeout)
//	           for chunk in iter_chunks(chunksize, *iterables)]
//	return map_results(ProcessMapFuture(futures), timeout)
//
// iter_chunks cuts the jobs into tuples of chunksize; each chunk is one
// task (one registration, one ACK, one result), so the worker that
// acknowledges it runs the chunk's jobs in order and a death fails them
// together. process_chunk is `[process_execute(function, *args) for args
// in chunk]`, and process_execute catches Exception: an error becomes
// that job's item in the chunk's list and the jobs after it still run,
// while SystemExit escapes and ends the worker. MapResults chains
// chunk_result of each future in order (`return (error, )` for a failed
// future) and raises at the first item that is an Exception: a job's own
// error raises at that job, the values before it delivered; a failed
// chunk's ProcessExpired raises at the chunk's first job. chunksize 0 or
// 1 is Map (pebble's default is 1).
func (p *pebblePool) MapChunks(ctx context.Context, ts []Task, chunksize int) ([]Result, error) {
	if chunksize < 0 {
		return make([]Result, len(ts)), fmt.Errorf("pools: chunksize %d: want 1 or more, 0 for pebble's default, 1 (pebble: ValueError: chunksize must be >= 1)", chunksize)
	}
	if chunksize <= 1 {
		return p.Map(ctx, ts)
	}
	out := make([]Result, len(ts))
	fs, err := p.scheduleChunks(ctx, ts, chunksize)
	if err != nil {
		// _check_pool_state raises out of map before any chunk is
		// scheduled.
		for i := range out {
			out[i] = Result{Err: err}
		}
		if err == ctx.Err() {
			return out, err
		}
		return out, nil
	}
	return p.mapResults(ctx, fs, out)
}

// A pebbleChunk is a map chunk scheduled as one task, by its head job.
type pebbleChunk struct {
	n      int      // jobs in the chunk: head, head+1, ...
	values [][]byte // process_chunk's list, one item a job (chunkItem)
}

// scheduleChunks schedules each chunk as one task, under one hold of
// core.mu so that a chunk's jobs are consecutive: the worker numbers a
// chunk's calls job, job+1, ... and a fault aimed at a job strikes in
// its call. It returns every job's future in order.
func (p *pebblePool) scheduleChunks(ctx context.Context, ts []Task, chunksize int) ([]*Future, error) {
	calls, err := wireTasks(ts)
	if err != nil {
		return nil, err
	}
	// As Submit: the pool starts at its first schedule (_check_pool_state),
	// and the pool manager's turn at a death comes first.
	if err := p.startAtSchedule(); err != nil {
		return nil, err
	}
	if err := p.awaitInspection(ctx); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case p.broken != nil:
		return nil, ErrPebbleError
	case p.closing || p.stopped():
		return nil, ErrClosed
	}
	if p.chunks == nil {
		p.chunks = map[int]*pebbleChunk{}
	}
	fs := make([]*Future, len(calls))
	for i := range calls {
		fs[i] = p.newFutureLocked()
		ownedBy(calls[i].Trigs, fs[i].job)
	}
	for i := 0; i < len(calls); i += chunksize {
		end := min(i+chunksize, len(calls))
		p.chunks[fs[i].job] = &pebbleChunk{n: end - i}
		p.taskq = append(p.taskq, queued{job: fs[i].job, t: calls[i], chunk: calls[i:end]})
	}
	notify(p.taskReady)
	notify(p.wake)
	return fs, nil
}

// runPebble is process_execute(task.function, ...) in worker_process. A
// task of more than one call is a map chunk, whose function is
// process_chunk: each job's Exception is caught and becomes its item
// (chunkItem), the jobs after it run, and only SystemExit ends the chunk,
// and the worker. A single call is the task's function itself.
func (w *worker) runPebble(job int, calls []wireTask) ([][]byte, []wireTask, error) {
	if len(calls) <= 1 {
		return w.run(job, calls)
	}
	items := make([][]byte, 0, len(calls))
	for k, c := range calls {
		w.slot.set(wRunTask, int64(job+k))
		v, err := runCall(c, job+k, w.await)
		if err != nil && IsExitRequest(err) {
			return nil, calls[:k+1], err
		}
		items = append(items, chunkItem(v, err))
	}
	return items, calls, nil
}

// chunkItem is one item of process_chunk's list: a status byte, then
// the value, or the message of the error process_execute caught (a
// RemoteException, which unpickles as the error).
func chunkItem(v []byte, err error) []byte {
	if err != nil {
		return append([]byte{frame.StatusTaskError}, err.Error()...)
	}
	return append([]byte{frame.StatusOK}, v...)
}

// chunkItemResult is the job's result an item says.
func chunkItemResult(b []byte) Result {
	if len(b) == 0 {
		return Result{Err: fmt.Errorf("pools: an empty item in a chunk's result")}
	}
	r := wireResult{Status: b[0], Value: b[1:]}
	if err := resultErr(r); err != nil {
		return Result{Err: err}
	}
	return Result{Value: r.Value}
}

// resultLocked is process_next_message for a Result: task_done with the
// task's result, which for a chunk is its list.
func (p *pebblePool) resultLocked(job int, r wireResult) {
	err := resultErr(r)
	if c, ok := p.chunks[job]; ok && err == nil {
		c.values = r.Values
	}
	p.taskDoneLocked(job, Result{Value: r.Value, Err: err})
}

// resolveTaskLocked sets a task's future. A chunk's jobs take the items
// of its list; a chunk that failed (ProcessExpired, TimeoutError) gives
// every job its error, since chunk_result returns `(error, )` and
// MapResults raises it at the chunk's first job, before any other.
func (p *pebblePool) resolveTaskLocked(job int, r Result) {
	c, ok := p.chunks[job]
	if !ok {
		p.resolveLocked(job, r)
		return
	}
	delete(p.chunks, job)
	if r.Err == nil && c.n > 1 && len(c.values) != c.n {
		r.Err = fmt.Errorf("pools: a chunk of %d jobs returned %d values", c.n, len(c.values))
	}
	for k := range c.n {
		res := Result{Err: r.Err}
		switch {
		case r.Err != nil:
		case c.n == 1: // one call: the worker ran the function itself
			res = r
		default:
			res = chunkItemResult(c.values[k])
		}
		p.resolveLocked(job+k, res)
	}
}
