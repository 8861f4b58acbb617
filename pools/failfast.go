package pools

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
)

// failFast is concurrent.futures.ProcessPoolExecutor: a manager goroutine
// (_ExecutorManagerThread) waits on the result pipe, on submits and on
// every worker's death; any death while the pool is in use, or any failure
// to read a result, breaks the pool.
type failFast struct {
	managed
	tasks   *pipe
	results *pipe
	reader  *frameReader
	pipes   func(slot) (*pipe, *pipe, error)

	// Under core.mu. Everything that wakes the manager is recorded here
	// until the manager takes it, so a snapshot sees it (factsLocked).
	workIDs       []queued // submitted, not yet on the call queue
	inFlight      int      // on the call queue or in a worker
	sentSentinels bool
	feedq         [][]byte
	arrived       []readResult   // read by the reader, not yet taken by the manager
	seenDead      map[*proc]bool // deaths the manager has taken
	exiting       map[int]bool   // pids that sent their exit message
	deferring     atomic.Bool    // a death waits for the result pipe to drain

	feedReady chan struct{} // capacity 1
}

type readResult struct {
	job int
	r   wireResult
	err error
}

const (
	gManager = "manager"
	gFeeder  = "feeder"
	gReader  = "result-reader"
	// extraQueuedCalls is how many calls beyond one per worker may sit in
	// the call queue. process.py's EXTRA_QUEUED_CALLS is 1, so that queued
	// futures can still be cancelled; this model has no cancel, and the
	// depth changes no verdict (every pending job fails when the pool
	// breaks, queued or not), so it queues deeper: at 1 the pipeline is
	// latency-bound at ~45k tasks/s here, at 64 it does ~150-190k.
	extraQueuedCalls = 64
)

func startFailFast(o Options) (*failFast, error) {
	c, err := newCore(FailFast, o)
	if err != nil {
		return nil, err
	}
	p := &failFast{
		managed:  newManaged(c, gManager),
		seenDead: map[*proc]bool{}, exiting: map[int]bool{}, feedReady: make(chan struct{}, 1),
	}
	c.resolverIDs = func() []string { return []string{gManager} }
	p.tasks, p.results, p.pipes, err = c.sharedPipes("call queue pipe", "result queue pipe")
	if err != nil {
		c.release()
		return nil, err
	}
	// While the manager waits for the pipe to drain before it acts on a
	// death, every step of the reader wakes it.
	p.reader = newFrameReader(p.results.r, new(atomic.Int64), new(atomic.Int64), p.results.read, func() {
		c.reg.bump()
		if p.deferring.Load() {
			notify(p.wake)
		}
	})
	for i := 0; i < o.Workers; i++ {
		pr, err := c.spawn(p.pipes)
		if err != nil {
			c.killAll()
			p.closePipes()
			c.release()
			return nil, err
		}
		c.addProc(pr)
	}
	for _, g := range []string{gManager, gFeeder, gReader} {
		c.setG(g, "starting", nil)
	}
	c.gs.Add(3)
	go p.manage()
	go p.feed()
	go p.read()
	return p, nil
}

func (p *failFast) closePipes() {
	if p.tasks != nil {
		p.tasks.close()
	}
	if p.results != nil {
		p.results.close()
	}
}

func (p *failFast) Snapshot() Snapshot {
	return p.snapshot(roles{taskWriter: gFeeder, resultReader: gReader, locks: true, pipes: []*pipe{p.tasks, p.results}})
}

// Submit follows ProcessPoolExecutor.submit.
func (p *failFast) Submit(ctx context.Context, t Task) (*Future, error) {
	return p.submit(t, func(q queued) { p.workIDs = append(p.workIDs, q) })
}

func (p *failFast) Map(ctx context.Context, ts []Task) ([]Result, error) {
	return p.mapWait(ctx, ts, p.Submit)
}

func (p *failFast) Terminate() error { return p.terminate(p.stopAll) }

// stopAll ends the goroutines' waits, kills and reaps every worker.
func (p *failFast) stopAll() {
	p.stopManager()
	p.killAll()
	p.closePipes()
}

// manage follows _ExecutorManagerThread.run: move work to the call queue,
// take results (results already read stay delivered, as the result
// reader is checked before the sentinels), and break on any death while
// the pool is in use.
func (p *failFast) manage() {
	defer p.gs.Done()
	defer close(p.managerDone)
	wait := &waitSpec{
		what:      "a result, a worker's death or a submit",
		releasers: func() []string { return append(p.liveWorkerIDsLocked(), gCaller, gReader) },
		ready:     p.factsLocked,
	}
	for {
		p.mu.Lock()
		p.addCallItemsLocked()
		if p.closing && len(p.cache) == 0 && !p.sentSentinels {
			// join_executor_internals: one None per worker.
			for range p.liveProcsLocked() {
				p.feedq = append(p.feedq, appendFrame(nil, jobSentinel, trig{}, nil))
			}
			notify(p.feedReady)
			p.sentSentinels = true
		}
		if p.sentSentinels && len(p.liveProcsLocked()) == 0 {
			p.mu.Unlock()
			p.doneG(gManager, "finished")
			p.stopAll() // ends the feeder and the reader; reaps
			return
		}
		read := p.arrived
		p.arrived = nil
		for _, rr := range read {
			if rr.err == nil && rr.job == jobExiting {
				pid, _ := strconv.Atoi(string(rr.r.value))
				p.exiting[pid] = true
			}
		}
		// A sentinel counts only once the result pipe holds nothing more
		// to read: CPython's manager reads the result reader before the
		// sentinels, so a worker's exit message comes before its exit.
		var abrupt *proc
		p.deferring.Store(p.unseenDeathLocked())
		if !p.results.readReady(p.reader.have, p.reader.need) {
			for _, pr := range p.procs {
				if _, d, _ := pr.exit(); d && !p.seenDead[pr] {
					p.seenDead[pr] = true
					if !p.exiting[pr.pid] && abrupt == nil {
						abrupt = pr
					}
				}
			}
		}
		if len(read) == 0 && abrupt == nil {
			p.setGLocked(gManager, "waiting for a result, a worker's death or a submit", wait)
			p.mu.Unlock()
			select {
			case <-p.stop:
				p.doneG(gManager, "stopped by terminate")
				return
			case <-p.wake:
			case <-p.died:
			}
			continue
		}
		p.setGLocked(gManager, "handling results and deaths", nil)
		for _, rr := range read {
			if rr.err != nil {
				p.mu.Unlock()
				p.breakPool(fmt.Sprintf("a result could not be read: %v", rr.err))
				return
			}
			if rr.job != jobExiting && p.resolveLocked(rr.job, Result{Value: rr.r.value, Err: rr.r.err()}) {
				p.inFlight--
			}
		}
		p.mu.Unlock()
		if abrupt != nil {
			st, _, _ := abrupt.exit()
			p.breakPool(fmt.Sprintf("a child process terminated abruptly: pid %d %s", abrupt.pid, st))
			return
		}
	}
}

func (p *failFast) unseenDeathLocked() bool {
	for _, pr := range p.procs {
		if _, d, _ := pr.exit(); d && !p.seenDead[pr] {
			return true
		}
	}
	return false
}

// factsLocked reports whether something waits for the manager.
func (p *failFast) factsLocked() bool {
	if len(p.arrived) > 0 || (len(p.workIDs) > 0 && p.inFlight < p.opts.Workers+extraQueuedCalls) {
		return true
	}
	if p.closing && len(p.cache) == 0 && !p.sentSentinels {
		return true
	}
	for _, pr := range p.procs {
		if _, d, _ := pr.exit(); d && !p.seenDead[pr] {
			return true // taken once the reader has drained the pipe
		}
	}
	return p.sentSentinels && len(p.liveProcsLocked()) == 0
}

// addCallItems follows add_call_item_to_queue and the queue feeder's
// pickling: a task that fails to encode gets its error
// (_SafeQueue._on_queue_feeder_error) and the pool goes on.
func (p *failFast) addCallItemsLocked() {
	for p.inFlight < p.opts.Workers+extraQueuedCalls && len(p.workIDs) > 0 {
		q := p.workIDs[0]
		p.workIDs = p.workIDs[1:]
		b, err := encodeTask(q.job, q.t)
		if err != nil {
			p.resolveLocked(q.job, Result{Err: &EncodeError{What: "task", Err: err}})
			continue
		}
		p.feedq = append(p.feedq, b)
		p.inFlight++
		notify(p.feedReady)
	}
}

// breakPool follows terminate_broken: mark the pool broken, fail every
// pending future, kill every worker ("the queues or their locks may be in
// a dirty state and block forever").
func (p *failFast) breakPool(cause string) {
	p.mu.Lock()
	p.broken = fmt.Errorf("%w: %s", ErrBrokenPool, cause)
	p.failAllLocked(p.broken)
	p.mu.Unlock()
	p.stopAll()
	p.doneG(gManager, "broke the pool: "+cause)
}

// feed is the call queue's feeder thread: it writes encoded tasks to the
// task pipe.
func (p *failFast) feed() {
	defer p.gs.Done()
	wait := &waitSpec{what: "a task from the manager", releasers: func() []string { return []string{gManager} },
		ready: func() bool { return len(p.feedq) > 0 }}
	for {
		p.mu.Lock()
		for len(p.feedq) == 0 {
			p.setGLocked(gFeeder, "waiting for the manager", wait)
			p.mu.Unlock()
			select {
			case <-p.feedReady:
			case <-p.stop:
				p.doneG(gFeeder, "stopped")
				return
			}
			p.mu.Lock()
		}
		b := p.feedq[0]
		p.feedq = p.feedq[1:]
		p.setGLocked(gFeeder, "writing the call queue pipe", &waitSpec{
			what: "room in the call queue pipe", releasers: p.liveWorkerIDsLocked,
			ready: func() bool { return p.tasks.buffered() < p.tasks.capacity() },
		})
		p.mu.Unlock()
		if err := p.tasks.send(b); err != nil {
			p.doneG(gFeeder, "stopped: error writing the call queue pipe")
			return
		}
	}
}

// read reads and decodes results for the manager; in CPython the manager
// does it itself under `except BaseException`, which breaks the pool.
func (p *failFast) read() {
	defer p.gs.Done()
	readWait := &waitSpec{
		what:      "a result on the result queue pipe",
		releasers: p.liveWorkerIDsLocked,
		ready:     func() bool { return p.results.readReady(p.reader.have, p.reader.need) },
		detail:    func() string { return frameDetail(p.reader) },
		torn:      func() bool { h, _ := p.reader.progress(); return h > 0 },
	}
	for {
		p.setG(gReader, "reading the result queue pipe", readWait)
		f, err := p.reader.next(func(job int, t trig) error {
			if t.id == 0 {
				return nil
			}
			return fire([]trig{t}, PointResultAlloc, job, false, nil)
		})
		rr := readResult{job: f.job, err: err}
		if err == nil {
			rr.r, rr.err = decodeResult(f.job, f.body)
		}
		p.mu.Lock()
		p.arrived = append(p.arrived, rr)
		p.setGLocked(gReader, "handing a result to the manager", nil)
		p.mu.Unlock()
		notify(p.wake)
		if rr.err != nil {
			p.doneG(gReader, "stopped after a read error")
			return
		}
	}
}
