package pools

import (
	"context"
	"fmt"
)

// A ChunkMapper is a pool whose map splits the jobs into chunks, each sent
// as one task, as multiprocessing.Pool.map does. The naive and respawn
// pools are ChunkMappers.
type ChunkMapper interface {
	// MapChunks is Map with Pool.map's chunksize argument: each chunk of
	// chunksize consecutive jobs is one task, whose calls a worker runs in
	// order (mapstar); the first error ends the chunk. chunksize 0 means
	// Pool.map's default, [DefaultChunkSize].
	MapChunks(ctx context.Context, ts []Task, chunksize int) ([]Result, error)
}

// DefaultChunkSize is Pool.map's chunk size when none is given, the same
// in 2.6 and 3.x (Pool.map_async / _map_async):
//
//	chunksize, extra = divmod(len(iterable), len(self._pool) * 4)
//	if extra: chunksize += 1
//
// that is ceil(jobs / (4 * workers)); 0 for no jobs.
func DefaultChunkSize(jobs, workers int) int {
	if jobs <= 0 || workers <= 0 {
		return 0
	}
	n, extra := jobs/(4*workers), jobs%(4*workers)
	if extra > 0 {
		n++
	}
	return n
}

// mapGroup is a MapResult: the jobs of one map call, its chunk size and
// the first error any chunk returned (`_value` once `_success` is False).
type mapGroup struct {
	jobs      []*Future
	chunksize int
	err       error
}

// chunkOf returns the jobs of the chunk that starts at job.
func (g *mapGroup) chunkOf(job int) []*Future {
	i := job - g.jobs[0].job
	return g.jobs[i:min(i+g.chunksize, len(g.jobs))]
}

func (p *queuePool) Map(ctx context.Context, ts []Task) ([]Result, error) {
	return p.MapChunks(ctx, ts, 0)
}

// MapChunks follows Pool.map: one MapResult for the whole call, the jobs
// cut into chunks (Pool._get_tasks), each chunk one task on the task
// queue (`(job, i, mapstar, ((func, chunk),), {})`). If the map fails, it
// raises its first error: every job's Result carries that error.
func (p *queuePool) MapChunks(ctx context.Context, ts []Task, chunksize int) ([]Result, error) {
	out := make([]Result, len(ts))
	if chunksize < 0 {
		return out, fmt.Errorf("pools: chunksize %d: want 0 (the default) or more", chunksize)
	}
	if chunksize == 0 {
		chunksize = DefaultChunkSize(len(ts), p.opts.Workers)
	}
	calls, err := wireTasks(ts)
	if err != nil {
		return out, err
	}
	g := &mapGroup{chunksize: chunksize}
	p.mu.Lock()
	if err := ctx.Err(); err != nil {
		p.mu.Unlock()
		for i := range out {
			out[i] = Result{Err: err}
		}
		return out, err
	}
	if p.state != stateRun {
		p.mu.Unlock()
		for i := range out {
			out[i] = Result{Err: ErrClosed}
		}
		return out, nil
	}
	for i := range calls {
		f := p.newFutureLocked()
		f.group = g
		g.jobs = append(g.jobs, f)
		ownedBy(calls[i].Trigs, f.job)
	}
	if p.bill != nil {
		p.bill.newCallLocked(g.jobs...)
	}
	for i := 0; i < len(calls); i += chunksize {
		end := min(i+chunksize, len(calls))
		p.putLocked(queued{job: g.jobs[i].job, t: calls[i], chunk: calls[i:end]})
	}
	p.mu.Unlock()
	err = p.waitAll(ctx, g.jobs, out)
	p.mu.Lock()
	failed := g.err
	p.mu.Unlock()
	if err == nil && failed != nil {
		for i := range out {
			out[i] = Result{Err: failed}
		}
	}
	return out, err
}

// setLocked follows `cache[job]._set(i, obj)` for one task's outcome; a
// job no longer in the cache is skipped (`except KeyError: pass`).
//
// A job submitted alone is an ApplyResult: it takes the outcome. A map
// chunk is a MapResult's: its values fill the chunk's jobs. On an error
// the two designs part:
//   - 2.6 and 2.7 (naive): the first failed chunk makes the whole map
//     ready with its error and removes it from the cache, chunks still
//     out included (their results, if any come, find no entry);
//   - 3.x (respawn): the chunk counts as done ("only store first
//     exception"), and the map is ready only once every chunk is ("only
//     consider the result ready once all jobs are done").
//
// It returns the error a job's callback raised: nothing in the thread
// that called it catches that, so the thread dies (callback.go).
func (p *queuePool) setLocked(job int, r wireResult) error {
	f, ok := p.cache[job]
	if !ok {
		return nil
	}
	if f.it != nil {
		p.setIMapLocked(f, r)
		return nil
	}
	g := f.group
	if g == nil {
		res := Result{Value: r.Value, Err: resultErr(r)}
		// ApplyResult._set: the callback on a success, 3.x's
		// error_callback on a failure (2.6 has none), then
		// `self._event.set()` and `del self._cache[self._job]`: a
		// raising callback leaves the job in the cache, never ready.
		if p.bill == nil && (res.Err == nil || p.respawn) {
			if err := p.callbackLocked(f, res); err != nil {
				return err
			}
		}
		p.resolveLocked(job, res)
		return nil
	}
	chunk := g.chunkOf(job)
	err := resultErr(r)
	if err == nil && len(r.Values) != len(chunk) {
		err = fmt.Errorf("pools: a chunk of %d jobs returned %d values", len(chunk), len(r.Values))
	}
	if err == nil {
		for k, f := range chunk {
			p.resolveLocked(f.job, Result{Value: r.Values[k]})
		}
		return nil
	}
	if g.err == nil {
		g.err = err
	}
	if p.respawn && p.bill == nil {
		for _, f := range chunk {
			p.resolveLocked(f.job, Result{Err: err})
		}
		return nil
	}
	for _, f := range g.jobs {
		if p.resolveLocked(f.job, Result{Err: g.err}) && (f.job < job || f.job >= job+len(chunk)) {
			p.abandoned[f.job] = true
		}
	}
	return nil
}
