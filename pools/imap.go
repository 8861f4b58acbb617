package pools

import (
	"context"
	"errors"
	"fmt"
)

// An Input is imap's iterable. Next returns its next task, ok false at
// its end, or the error the iterable raised producing the item.
type Input interface {
	Next() (t Task, ok bool, err error)
}

// InputError is the error of the item an imap's input raised at: the
// iterable's own exception, as next() raises it.
type InputError struct {
	Job int
	Err error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("the input iterable raised at item %d: %v", e.Job, e.Err)
}
func (e *InputError) Unwrap() error { return e.Err }

// IMapOptions are imap's arguments beyond the function and the input.
type IMapOptions struct {
	// Unordered: imap_unordered, items in the order they complete.
	Unordered bool
	// ChunkSize is imap's chunksize (0 or 1: each item its own task).
	ChunkSize int
}

// An IMapper is a pool with Pool.imap and Pool.imap_unordered. The naive
// and respawn pools follow multiprocessing.Pool's (2.6 and 3.11); tracked
// reads the input in the caller and submits each item alone. failfast is
// none: ProcessPoolExecutor has no imap, and its map reads the whole
// input before it returns (`fs = [self.submit(fn, *args) for args in
// zip(*iterables)]`).
type IMapper interface {
	IMap(ctx context.Context, in Input, o IMapOptions) (*IMapIterator, error)
}

// An Item is what one next() of an imap returns: one job's result, or,
// with a chunk size above 1, a chunk's, in job order.
type Item struct {
	Jobs    []int
	Results []Result
}

// IMapIterator is Pool.imap's IMapIterator (or IMapUnorderedIterator):
// its tasks, by task index, and how far the caller has read.
type IMapIterator struct {
	c         *core
	unordered bool
	// chunked: chunksize > 1. imap then returns a generator that flattens
	// the chunks (`(item for chunk in result for item in chunk)`): the
	// first error ends it, and it yields nothing after.
	chunked bool
	// producers name, beside the resolvers, who could still add an item
	// (the task handler, which reads the input lazily).
	producers func() []string
	changed   chan struct{} // capacity 1

	// Under c.mu.
	chunks   [][]*Future  // by task index
	inputErr map[int]bool // task indices that re-raise the input's error
	arrived  []int        // task indices complete, in completion order
	length   int          // the number of tasks, once known (_set_length); -1 before
	pos      int          // items the caller has read
	ended    bool         // a chunked imap raised: its generator is finished
	call     int          // billiard: its job id, every task's (billiard.go)
}

func newIMapIterator(c *core, o IMapOptions, producers func() []string) *IMapIterator {
	return &IMapIterator{c: c, unordered: o.Unordered, chunked: o.ChunkSize > 1, producers: producers,
		changed: make(chan struct{}, 1), inputErr: map[int]bool{}, length: -1}
}

// addLocked records a task of the jobs fs, at the next task index.
func (it *IMapIterator) addLocked(fs []*Future) int {
	idx := len(it.chunks)
	for _, f := range fs {
		f.it, f.itIdx = it, idx
	}
	it.chunks = append(it.chunks, fs)
	return idx
}

// resolvedLocked is called as each of its jobs resolves: a task whose
// jobs have all resolved has arrived (IMapIterator._set).
func (it *IMapIterator) resolvedLocked(f *Future) {
	for _, g := range it.chunks[f.itIdx] {
		if !g.isDone() {
			return
		}
	}
	it.arrived = append(it.arrived, f.itIdx)
	notify(it.changed)
}

// setLengthLocked is _set_length, once the input is exhausted.
func (it *IMapIterator) setLengthLocked(n int) {
	it.length = n
	it.c.reg.Bump()
	notify(it.changed)
}

// nextLocked returns the task index next() would return now, or -1.
func (it *IMapIterator) nextLocked() int {
	switch {
	case it.unordered && it.pos < len(it.arrived):
		return it.arrived[it.pos]
	case !it.unordered && it.pos < len(it.chunks) && it.completeLocked(it.pos):
		return it.pos
	}
	return -1
}

func (it *IMapIterator) completeLocked(idx int) bool {
	for _, f := range it.chunks[idx] {
		if !f.isDone() {
			return false
		}
	}
	return true
}

func (it *IMapIterator) endedLocked() bool {
	return it.ended || (it.length >= 0 && it.pos >= it.length)
}

// waitingForLocked is the first job next() waits for, or -1.
func (it *IMapIterator) waitingForLocked() int {
	idxs := []int{it.pos}
	if it.unordered {
		idxs = idxs[:0]
		for i := range it.chunks {
			idxs = append(idxs, i)
		}
	}
	for _, i := range idxs {
		if i >= len(it.chunks) {
			continue
		}
		for _, f := range it.chunks[i] {
			if !f.isDone() {
				return f.job
			}
		}
	}
	return -1
}

// Next is next() on the iterator: the next item, or ok false once the
// iteration has ended (StopIteration). It returns ctx's error if ctx ends
// first.
func (it *IMapIterator) Next(ctx context.Context) (item Item, ok bool, err error) {
	c := it.c
	var w *callerWait
	defer func() {
		if w != nil {
			c.leaveWait(w)
		}
	}()
	for {
		c.mu.Lock()
		if it.endedLocked() {
			c.mu.Unlock()
			return Item{}, false, nil
		}
		if idx := it.nextLocked(); idx >= 0 {
			item = it.itemLocked(idx)
			c.mu.Unlock()
			return item, true, nil
		}
		c.mu.Unlock()
		if w == nil {
			w = c.enterWait(waitSpec{kind: WaitJobResult, what: "the next item of an imap",
				job: it.waitingForLocked,
				releasers: func() []string {
					ids := c.resolverIDs()
					if it.producers != nil {
						ids = append(ids, it.producers()...)
					}
					return ids
				},
				ready: func() bool { return it.endedLocked() || it.nextLocked() >= 0 }})
			continue // look again: it may have changed before the wait was recorded
		}
		select {
		case <-it.changed:
		case <-ctx.Done():
			return Item{}, false, ctx.Err()
		}
	}
}

// itemLocked takes task idx as the caller's next item.
func (it *IMapIterator) itemLocked(idx int) Item {
	var item Item
	for _, f := range it.chunks[idx] {
		item.Jobs = append(item.Jobs, f.job)
		item.Results = append(item.Results, f.res)
		if f.res.Err != nil && it.chunked {
			it.ended = true
		}
	}
	it.pos++
	it.c.reg.Bump()
	if !it.endedLocked() {
		notify(it.changed) // another item may be ready already
	}
	return item
}

// IMap follows Pool.imap and Pool.imap_unordered: one IMapIterator, and
// the task generator put on the task queue with its _set_length, for the
// task handler to read lazily (feedIMap).
func (p *queuePool) IMap(ctx context.Context, in Input, o IMapOptions) (*IMapIterator, error) {
	if o.ChunkSize < 0 {
		return nil, fmt.Errorf("pools: imap chunksize %d: want 1 or more (0 for 1)", o.ChunkSize)
	}
	it := newIMapIterator(p.core, o, func() []string { return []string{gTask} })
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.state != stateRun {
		return nil, ErrClosed
	}
	if p.bill != nil {
		p.bill.newIMapLocked(it)
	}
	p.putLocked(queued{imap: &imapFeed{it: it, in: in, size: max(o.ChunkSize, 1)}})
	return it, nil
}

// imapFeed is one imap's entry on the task queue: its task generator.
type imapFeed struct {
	it   *IMapIterator
	in   Input
	size int
}

// feedIMap is _handle_tasks reading one imap's task generator. In 3.x
// the generator is _guarded_task_generation: an exception the input
// raises (`except Exception as e`) becomes one more task,
// `(result_job, i+1, _helper_reraises_exception, (e,), {})`, which a
// worker runs and which raises there, so next() raises it; then the
// generator ends and _set_length counts that task. With chunks the input
// is read through _get_tasks' islice, so the items of a chunk under way
// when it raises are never sent. In 2.6 the generator is bare and
// _handle_tasks guards only put (`except IOError`): the exception kills
// the task handler, silently. It reports false if the thread ended.
func (p *queuePool) feedIMap(g *imapFeed) bool {
	for {
		if p.terminated() {
			return true
		}
		p.setG(gTask, "reading the imap's input", nil)
		var calls []Task
		var raised error
		for len(calls) < g.size {
			t, ok, err := g.in.Next()
			if err != nil {
				raised = err
				break
			}
			if !ok {
				break
			}
			calls = append(calls, t)
		}
		if raised != nil && p.bill != nil {
			return p.billiardInputError(g, raised)
		}
		if raised != nil {
			if !p.respawn {
				p.dieG(gTask, fmt.Sprintf("died of an uncaught error from the imap's input iterable: %v", raised))
				return false
			}
			calls = []Task{Fail(raised.Error())} // _helper_reraises_exception(e)
		}
		if len(calls) == 0 {
			p.mu.Lock()
			g.it.setLengthLocked(len(g.it.chunks))
			p.mu.Unlock()
			return true
		}
		q, err := p.imapTask(g, calls, raised != nil)
		if err != nil {
			// A trigger that cannot be resolved is the harness's error,
			// not the input's: end the imap there.
			p.mu.Lock()
			g.it.setLengthLocked(len(g.it.chunks))
			p.mu.Unlock()
			return true
		}
		if !p.sendTask(q) {
			return false
		}
		if raised != nil {
			p.mu.Lock()
			g.it.setLengthLocked(len(g.it.chunks))
			p.mu.Unlock()
			return true
		}
	}
}

// imapTask registers one task of an imap in the cache, a future per
// call, and returns it as the task queue carries it.
func (p *queuePool) imapTask(g *imapFeed, calls []Task, reraise bool) (queued, error) {
	wire, err := wireTasks(calls)
	if err != nil {
		return queued{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fs := make([]*Future, len(calls))
	for i := range calls {
		fs[i] = p.newFutureLocked()
		fs[i].call = g.it.call
		ownedBy(wire[i].Trigs, fs[i].job)
	}
	idx := g.it.addLocked(fs)
	if reraise {
		g.it.inputErr[idx] = true
	}
	q := queued{job: fs[0].job, t: wire[0]}
	if g.it.chunked && !reraise {
		q.chunk = wire // mapstar over the chunk
	}
	notify(g.it.changed)
	return q, nil
}

// setIMapLocked is IMapIterator._set for one task's outcome: every job of
// it takes its value, or the task's error (mapstar's first error ends the
// chunk).
func (p *queuePool) setIMapLocked(f *Future, r wireResult) {
	it := f.it
	chunk := it.chunks[f.itIdx]
	err := resultErr(r)
	values := r.Values
	if err == nil && len(values) != len(chunk) {
		if len(chunk) == 1 {
			values = [][]byte{r.Value}
		} else {
			err = fmt.Errorf("pools: a chunk of %d jobs returned %d values", len(chunk), len(values))
		}
	}
	if err != nil && it.inputErr[f.itIdx] {
		err = &InputError{Job: f.job, Err: err}
	}
	for k, g := range chunk {
		if err != nil {
			p.resolveLocked(g.job, Result{Err: err})
		} else {
			p.resolveLocked(g.job, Result{Value: values[k]})
		}
	}
}

// IMap for the tracked design reads the input in the caller and submits
// each item alone, as it comes; an exception the input raises is the
// error of the item it raised at, and the input ends there.
func (p *tracked) IMap(ctx context.Context, in Input, o IMapOptions) (*IMapIterator, error) {
	if o.ChunkSize > 1 {
		return nil, errors.New("pools: the tracked pool sends each task alone: imap takes no chunksize")
	}
	it := newIMapIterator(p.core, o, nil)
	for {
		t, ok, err := in.Next()
		if err != nil {
			p.mu.Lock()
			f := p.newFutureLocked()
			it.addLocked([]*Future{f})
			p.resolveLocked(f.job, Result{Err: &InputError{Job: f.job, Err: err}})
			p.mu.Unlock()
			break
		}
		if !ok {
			break
		}
		t.it = it
		if _, err := p.Submit(ctx, t); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	it.setLengthLocked(len(it.chunks))
	p.mu.Unlock()
	return it, nil
}
