package pools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/poolhang/poolhang/pools/internal/frame"
)

const (
	// Naive follows CPython 2.6 multiprocessing.Pool: shared queues, a task
	// handler and a result handler, a cache of pending jobs that join waits
	// to empty, and no replacement of dead workers.
	Naive Strategy = "naive"
	// Respawn follows the 2.7/3.x Pool: Naive plus a worker handler that
	// replaces dead workers while the pool runs or the cache is not empty.
	Respawn Strategy = "respawn"
)

func init() {
	Define(Definition{
		Name: Naive, Order: 1,
		Models:  "multiprocessing.Pool before workers were replaced: shared queues, a task handler, a result handler, a cache join waits to empty",
		Follows: "CPython 2.6 multiprocessing.Pool",
		Functions: []string{"Pool.apply_async", "Pool.map", "Pool._handle_tasks", "Pool._handle_results",
			"Pool.close", "Pool.join", "worker", "SimpleQueue.get", "MapResult._set"},
		SharedQueues: true,
		Worker:       WorkerMode{DecodeInLock: true},
		Options:      []Option{OptionChunkSize, OptionInitializer},
		Start:        startAs(func(o Options) (*queuePool, error) { return startQueue(Naive, o) }),
	})
	Define(Definition{
		Name: Respawn, Order: 2,
		Models:  "multiprocessing.Pool with a worker handler that replaces dead workers while the pool runs or jobs are pending",
		Follows: "CPython 3.11 multiprocessing.Pool",
		Functions: []string{"Pool.apply_async", "Pool.map", "Pool._handle_tasks", "Pool._handle_results",
			"Pool._handle_workers", "Pool._maintain_pool", "Pool.close", "Pool.join", "worker", "MapResult._set"},
		SharedQueues: true,
		Worker:       WorkerMode{SendEncodeError: true},
		// 3.x Pool.map: ApplyResult.wait -> threading.Event.wait.
		InterruptibleWaits: true,
		Options:            []Option{OptionChunkSize, OptionMaxTasks, OptionInitializer},
		Start:              startAs(func(o Options) (*queuePool, error) { return startQueue(Respawn, o) }),
	})
}

// Pool states, as in CPython's pool.py.
const (
	stateRun = iota
	stateClose
	stateTerminate
)

// queuePool is CPython's multiprocessing.Pool: Naive (2.6) and, with
// respawn set, the 2.7/3.x design with a worker handler.
type queuePool struct {
	*core
	respawn bool
	sharedQueues

	state      int // under core.mu
	taskq      []queued
	taskReady  chan struct{} // a put on taskq (capacity 1)
	change     chan struct{} // 3.x _change_notifier (capacity 1)
	stopping   atomic.Bool   // Terminate has begun
	taskDone   chan struct{}
	resultDone chan struct{}
	workerDone chan struct{}  // respawn only
	bill       *billiardState // billiard only (billiard.go)

	// rhTerminate is result_handler._state = TERMINATE, set by the
	// terminate() a caller makes (CallTerminate), under core.mu.
	rhTerminate bool
	// sentinelWriter is which of the parent's goroutines holds the result
	// write lock, under the parent's pid, to write the result handler's
	// sentinel: none, the caller (CallTerminate) or the task handler
	// (sentinelToResults).
	sentinelWriter atomic.Int32
	// replacing counts the dead workers a maintainPool under way is
	// reaping and replacing, under core.mu (sentinelsToWorkers).
	replacing int
}

// Who writes the result handler's sentinel (queuePool.sentinelWriter).
const (
	noWriter int32 = iota
	callerWriter
	taskWriter
)

type queued struct {
	job int
	t   wireTask
	// chunk, if set, holds every call of a map chunk (t is its first),
	// for jobs job, job+1, ...: one task frame, as Pool.map sends them.
	chunk      []wireTask
	sentinel   bool
	imap       *imapFeed // an imap's task generator (imap.go)
	idempotent bool
	attempts   int
}

const (
	gTask   = "task-handler"
	gResult = "result-handler"
	gWorker = "worker-handler"
	gCaller = "caller"
)

func startQueue(s Strategy, o Options) (*queuePool, error) {
	c, err := newCore(s, o)
	if err != nil {
		return nil, err
	}
	p := &queuePool{
		core: c, respawn: s == Respawn || s == Billiard,
		taskReady: make(chan struct{}, 1), change: make(chan struct{}, 1),
		taskDone: make(chan struct{}), resultDone: make(chan struct{}), workerDone: make(chan struct{}),
	}
	c.resolverIDs = func() []string { return []string{gResult} }
	if s == Billiard {
		p.bill = newBilliardState(o)
		// ApplyResult._set sets the event and pops the cache before it
		// applies the callback or error_callback through
		// safe_apply_callback, which logs an Exception and goes on.
		c.callbacks = callbacksLogged
		// The worker handler fails lost jobs (_join_exited_workers).
		c.resolverIDs = func() []string { return []string{gResult, gWorker} }
	}
	if p.respawn {
		// _PoolCache.__delitem__: `if not self: self.notifier.put(None)`,
		// so that _handle_workers sees a drained cache after close().
		c.cacheEmptied = func() { notify(p.change) }
	}
	if p.sharedQueues, err = c.startShared("task pipe", "result pipe"); err != nil {
		return nil, err
	}
	c.startG(gTask, RoleTaskHandler)
	c.startG(gResult, RoleResultHandler)
	c.gs.Add(2)
	go p.handleTasks()
	go p.handleResults()
	if p.respawn {
		c.startG(gWorker, RoleWorkerHandler)
		c.gs.Add(1)
		go p.handleWorkers()
	} else {
		close(p.workerDone)
	}
	return p, nil
}

func (p *queuePool) Snapshot() Snapshot {
	r := roles{taskWriter: gTask, resultReader: gResult, locks: true, pipes: []*pipe{p.tasks, p.results}}
	if p.respawn {
		r.respawner = gWorker // _handle_workers: _maintain_pool, with no bound
	}
	return p.snapshot(r)
}

// Submit follows Pool.apply_async: register the job in the cache, put the
// task on the task queue for the task handler.
func (p *queuePool) Submit(ctx context.Context, t Task) (*Future, error) {
	return p.admit(ctx, t, func() error {
		if p.state != stateRun {
			return ErrClosed
		}
		return nil
	}, func(q queued) {
		if p.bill != nil {
			p.bill.newCallLocked(p.cache[q.job])
		}
		p.putLocked(q)
	})
}

func (p *queuePool) putLocked(q queued) {
	p.taskq = append(p.taskq, q)
	p.reg.Bump()
	notify(p.taskReady)
}

// Close follows Pool.close: 2.6 puts the sentinel on the task queue at
// once; 3.x only tells the worker handler, which puts it once the cache
// is empty.
func (p *queuePool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != stateRun {
		return nil
	}
	p.state = stateClose
	p.reg.Bump()
	if p.respawn {
		notify(p.change)
	}
	if !p.respawn || p.bill != nil {
		// billiard's close puts the sentinel at once, as 2.6 does.
		p.putLocked(queued{sentinel: true})
	}
	return nil
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Join follows Pool.join: the worker handler (3.x), the task handler, the
// result handler, then every worker.
func (p *queuePool) Join(ctx context.Context) error {
	p.mu.Lock()
	st := p.state
	p.mu.Unlock()
	if st == stateRun {
		return errors.New("pools: Join on a running pool: Close or Terminate first")
	}
	steps := []struct {
		name string
		ch   chan struct{}
	}{{gWorker, p.workerDone}, {gTask, p.taskDone}, {gResult, p.resultDone}}
	for _, s := range steps {
		if s.name == gWorker && !p.respawn {
			continue
		}
		if err := p.waitG(ctx, s.name, s.ch); err != nil {
			return err
		}
	}
	return p.joinRest(ctx, p.closePipes)
}

// Terminate kills every worker, fails pending jobs and ends every
// goroutine. Unlike CPython's terminate it never takes the task read lock
// (_help_stuff_finish), which a dead holder would keep forever.
func (p *queuePool) Terminate() error {
	return p.terminateOnce(func() {
		p.stopping.Store(true)
		p.mu.Lock()
		p.state = stateTerminate
		p.failAllLocked(ErrTerminated)
		p.putLocked(queued{sentinel: true})
		p.mu.Unlock()
		notify(p.change)
		p.killAll()
		// The worker handler starts replacements from the shared pipes'
		// descriptors: it must have ended before they are closed, or a
		// replacement could inherit a closed or reused descriptor. It
		// waits on nothing the pipes hold, and stateTerminate ends its
		// loop (a spawn under way is killed by maintainPool itself).
		<-p.workerDone
		p.killAll() // anything the worker handler started meanwhile
		p.closePipes()
		p.reg.Lock(lockResultWrite).Wake()
	})
}

func (p *queuePool) terminated() bool { return p.stopping.Load() }

func (p *queuePool) resultHandlerTerminated() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rhTerminate
}

// handleTasks follows Pool._handle_tasks.
func (p *queuePool) handleTasks() {
	defer p.gs.Done()
	defer close(p.taskDone)
	if !p.feedTasks() {
		return
	}
	if p.terminated() {
		p.doneG(gTask, "stopped by terminate")
		return
	}
	if !p.sentinelToResults() {
		return
	}
	p.sentinelsToWorkers()
	p.doneG(gTask, "finished")
}

// feedTasks is _handle_tasks' loop: it writes each task to the task pipe
// until the caller's sentinel or a terminate. It reports false if the
// thread ended in it.
func (p *queuePool) feedTasks() bool {
	queueWait := &waitSpec{
		kind:  WaitEvents,
		what:  "a task on the task queue",
		ready: func() bool { return len(p.taskq) > 0 },
		releasers: func() []string {
			if p.respawn {
				return []string{gCaller, gWorker}
			}
			return []string{gCaller}
		},
	}
	for {
		p.mu.Lock()
		for len(p.taskq) == 0 {
			p.setGLocked(gTask, "waiting on the task queue", queueWait)
			p.mu.Unlock()
			<-p.taskReady
			p.mu.Lock()
		}
		q := p.taskq[0]
		p.taskq = p.taskq[1:]
		if q.sentinel || p.state == stateTerminate {
			// Record that the thread runs on before letting go of the
			// lock: its old wait (a task on the queue) is no longer ready
			// once the sentinel is taken, and a snapshot in between
			// would see it stuck behind a caller that waits for it.
			p.setGLocked(gTask, "shutting down", nil)
			p.mu.Unlock()
			return true
		}
		if q.imap != nil {
			p.setGLocked(gTask, "reading an imap's task generator", nil)
			p.mu.Unlock()
			if !p.feedIMap(q.imap) {
				return false
			}
			continue
		}
		p.setGLocked(gTask, fmt.Sprintf("encoding job %d", q.job), nil)
		p.mu.Unlock()
		if !p.sendTask(q) {
			return false
		}
	}
}

// sendTask encodes one task and writes it to the task pipe. It reports
// false if the thread ended in it.
func (p *queuePool) sendTask(q queued) bool {
	b, err := encodeQueued(q)
	if err != nil {
		if p.bill != nil && !IsExitRequest(err) {
			p.mu.Lock()
			p.billiardEncodeErrorLocked(q, err)
			p.mu.Unlock()
			return true
		}
		if p.respawn && !IsExitRequest(err) {
			// 3.x: `except Exception as e: ... cache[job]._set(idx, (False, e))`
			p.mu.Lock()
			cbErr := p.setLocked(q.job, resultOf(nil, &EncodeError{What: "task", Err: err}, nil))
			p.mu.Unlock()
			if cbErr != nil {
				// The error_callback runs on this thread, and raised.
				p.dieG(gTask, fmt.Sprintf("died of an uncaught error in the error_callback of job %d: %v", q.job, cbErr))
				return false
			}
			return true
		}
		// 2.6 catches only IOError: the thread dies, silently.
		p.dieG(gTask, fmt.Sprintf("died of an uncaught error encoding job %d: %v", q.job, err))
		return false
	}
	p.setG(gTask, fmt.Sprintf("writing job %d to the task pipe", q.job), p.taskPipeRoom(len(b)))
	if err := p.tasks.send(b); err != nil {
		p.doneG(gTask, "stopped: IOError writing the task pipe")
		return false
	}
	return true
}

// taskPipeRoom is the task handler's wait to write n bytes.
func (p *queuePool) taskPipeRoom(n int) *waitSpec {
	return &waitSpec{kind: WaitPipeRoom, what: "room in the task pipe", releasers: p.liveWorkerIDsLocked,
		ready: p.tasks.roomFor(n)}
}

// sentinelToResults is outqueue.put(None): the parent writes the result
// handler's sentinel to the result pipe, under the result write lock like
// any writer. It reports false if the thread ended in it.
func (p *queuePool) sentinelToResults() bool {
	lock := p.reg.Lock(lockResultWrite)
	p.setG(gTask, "sending the sentinel to the result handler", &waitSpec{
		kind: WaitLock, what: "the " + lockNames[lockResultWrite],
		lock: lockNames[lockResultWrite], holder: lock.Holder,
		releasers: func() []string {
			if h := lock.Holder(); h != 0 {
				if h == os.Getpid() && p.sentinelWriter.Load() == callerWriter {
					return []string{gCaller}
				}
				return []string{holderID(h)}
			}
			return nil
		},
		// Held by this process means the handler has taken it and
		// has yet to record so.
		ready:  func() bool { h := lock.Holder(); return h == 0 || h == os.Getpid() },
		detail: func() string { return fmt.Sprintf("held by pid %d", lock.Holder()) },
	})
	if !lock.AcquireParent(uint32(os.Getpid()), p.terminated) {
		p.doneG(gTask, "stopped by terminate")
		return false
	}
	p.sentinelWriter.Store(taskWriter)
	p.setG(gTask, "writing the sentinel to the result pipe", &waitSpec{
		kind: WaitPipeRoom, what: "room in the result pipe", releasers: func() []string { return []string{gResult} },
		ready: func() bool { return p.results.buffered() < p.results.capacity() },
	})
	err := p.results.send(sentinel())
	p.sentinelWriter.Store(noWriter)
	lock.Release()
	if err != nil {
		p.doneG(gTask, "stopped: IOError writing the result pipe")
		return false
	}
	return true
}

// sentinelsToWorkers is `for p in pool: put(None)`: pool holds every
// worker not yet joined, dead or alive, so it counts those; a spare
// sentinel is harmless, a missing one leaves a worker waiting forever.
//
// A dead worker that the worker handler is reaping and replacing is
// counted as its replacement: `_join_exited_workers` deletes it from
// pool and `_repopulate_pool` appends the new one a fork later, and a
// count taken in between (the task handler runs beside the worker
// handler) would leave the replacement without a sentinel. The real
// window is narrow (billiard's Supervisor also sleeps 0.8 s before its
// first turn, and close() joins it); the model's spawn is not, so it
// takes the side the real pools almost always take.
func (p *queuePool) sentinelsToWorkers() {
	p.mu.Lock()
	n := p.replacing
	for _, pr := range p.procs {
		if _, _, reaped := pr.State(); !reaped {
			n++
		}
	}
	p.mu.Unlock()
	for i := 0; i < n; i++ {
		p.setG(gTask, "sending sentinels to the workers", p.taskPipeRoom(len(sentinel())))
		if err := p.tasks.send(sentinel()); err != nil {
			break
		}
	}
}

// handleResults follows Pool._handle_results.
func (p *queuePool) handleResults() {
	defer p.gs.Done()
	defer close(p.resultDone)
	readWait := &waitSpec{
		kind:      WaitResultPipe,
		what:      "a result on the result pipe",
		releasers: func() []string { return append(p.liveWorkerIDsLocked(), gTask) },
		ready:     func() bool { return p.results.readReady(p.reader.Counters()) },
		detail:    func() string { return frameDetail(p.reader) },
		torn:      func() bool { h, _ := p.reader.Progress(); return h > 0 },
	}
	sentinel := false
	for {
		p.mu.Lock()
		if sentinel && (len(p.cache) == 0 || p.terminated() || p.rhTerminate) {
			p.mu.Unlock()
			break
		}
		if sentinel {
			p.setGLocked(gResult, fmt.Sprintf("reading the result pipe until the cache empties (%d pending)", len(p.cache)), readWait)
		} else {
			p.setGLocked(gResult, "reading the result pipe", readWait)
		}
		p.mu.Unlock()
		f, err := p.reader.Next(fireAlloc)
		if err != nil {
			if isEOFOrIO(err) {
				p.doneG(gResult, "stopped: EOFError/IOError reading the result pipe")
			} else if p.bill != nil {
				// The MemoryError escapes _process_result; finish_at_shutdown
				// then reads the body left in the pipe as the next message,
				// which fails again, and PoolThread.run calls os._exit(1).
				p.dieG(gResult, "died of an uncaught error reading the result pipe ("+err.Error()+"), and then of another reading the body it left as the next message: billiard's PoolThread.run calls os._exit(1), ending the parent")
			} else {
				// Any other exception ends the thread silently (the
				// seed's MemoryError).
				p.dieG(gResult, "died of an uncaught error reading the result pipe: "+err.Error())
			}
			return
		}
		// `if thread._state != RUN: break` after every get (2.6 and 3.x).
		if p.terminated() || p.resultHandlerTerminated() {
			break
		}
		if f.Job == jobSentinel {
			sentinel = true
			continue
		}
		p.setG(gResult, fmt.Sprintf("decoding the result of job %d", f.Job), nil)
		r, err := decodeResult(f.Job, f.Body)
		if err != nil && p.bill != nil && !sentinel {
			// billiard: the error escapes _process_result, and ResultHandler.
			// body's `finally: self.finish_at_shutdown()` reads on while the
			// cache is not empty; job's result is gone.
			p.mu.Lock()
			p.dropLocked(f.Job, "had its result read and lost: unpickling it failed in the result handler, which reads on (finish_at_shutdown) without it")
			p.mu.Unlock()
			sentinel = true
			continue
		}
		if err != nil {
			p.dieG(gResult, fmt.Sprintf("died of an uncaught error decoding the result of job %d: %v", f.Job, err))
			return
		}
		p.mu.Lock()
		if f.Job == jobAck {
			p.ackLocked(r.Value)
			p.mu.Unlock()
			continue
		}
		if err := p.setLocked(f.Job, r); err != nil {
			p.mu.Unlock()
			// `cache[job]._set(i, obj)` is guarded by `except KeyError`
			// only: the callback's error kills the thread (cpython#83371).
			p.dieG(gResult, fmt.Sprintf("died of an uncaught error in the callback of job %d: %v", f.Job, err))
			return
		}
		if len(p.cache) == 0 {
			notify(p.change)
		}
		p.mu.Unlock()
	}
	p.doneG(gResult, "finished")
}

// encodeQueued encodes a task: one call, or a map chunk.
func encodeQueued(q queued) ([]byte, error) {
	if q.chunk != nil {
		return encodeChunk(q.job, q.chunk)
	}
	return encodeTask(q.job, q.t)
}

func frameDetail(fr *frame.Reader) string {
	have, need := fr.Progress()
	if have == 0 {
		return "between frames"
	}
	if need == 0 {
		return fmt.Sprintf("%d bytes of a frame header", have)
	}
	return fmt.Sprintf("holding %d of %d bytes of a frame", have, need)
}

func isEOFOrIO(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, ErrTornFrame) || errors.Is(err, os.ErrClosed) || isIOError(err)
}

// handleWorkers follows 3.x Pool._handle_workers: while the pool runs or
// jobs are pending, reap dead workers and start replacements; only then
// let the task handler tell the workers to exit.
func (p *queuePool) handleWorkers() {
	defer p.gs.Done()
	defer close(p.workerDone)
	// ready: what wakes the handler is still there until it acts on it.
	wait := &waitSpec{
		kind: WaitEvents,
		what: "a worker to exit or the pool to change",
		releasers: func() []string {
			ids := append(p.liveWorkerIDsLocked(), gCaller, gResult)
			if !p.nextGraceLocked().IsZero() {
				ids = append(ids, Clock)
			}
			return ids
		},
		// An armed grace (billiard) is ready: the clock will wake it.
		ready: func() bool {
			return !p.keepGoingLocked() || p.deadUnreapedLocked() || !p.nextGraceLocked().IsZero()
		},
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		p.mu.Lock()
		if !p.keepGoingLocked() {
			p.mu.Unlock()
			break
		}
		next := p.nextGraceLocked()
		if p.deadUnreapedLocked() || (!next.IsZero() && !time.Now().Before(next)) {
			p.setGLocked(gWorker, "maintaining the pool", nil)
			p.mu.Unlock()
			p.maintainPool()
			continue
		}
		p.setGLocked(gWorker, "waiting for a worker to exit or the pool to change", wait)
		p.mu.Unlock()
		tc := rearm(&timer, next)
		select {
		case <-p.died:
		case <-p.change:
		case <-tc:
		}
	}
	p.mu.Lock()
	if p.state != stateTerminate && p.bill == nil {
		p.putLocked(queued{sentinel: true})
	}
	p.mu.Unlock()
	p.doneG(gWorker, "finished")
}

// keepGoingLocked is _handle_workers' loop condition:
// `thread._state == RUN or (cache and thread._state != TERMINATE)`.
func (p *queuePool) keepGoingLocked() bool {
	return p.state == stateRun || (len(p.cache) > 0 && p.state != stateTerminate)
}

func (p *queuePool) deadUnreapedLocked() bool {
	for _, pr := range p.procs {
		if _, dead, reaped := pr.State(); dead && !reaped {
			return true
		}
	}
	return false
}

// maintainPool follows Pool._maintain_pool: _join_exited_workers (exit
// codes are ignored), then _repopulate_pool.
func (p *queuePool) maintainPool() {
	p.mu.Lock()
	var dead []*proc
	for _, pr := range p.procs {
		if _, d, reaped := pr.State(); d && !reaped {
			dead = append(dead, pr)
		}
	}
	p.replacing += len(dead)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.replacing -= len(dead)
		p.mu.Unlock()
	}()
	for _, pr := range dead {
		p.reap(pr)
	}
	if p.bill != nil {
		p.mu.Lock()
		p.joinExitedWorkersLocked(time.Now(), dead)
		p.mu.Unlock()
	}
	for {
		p.mu.Lock()
		need := p.opts.Workers - len(p.liveProcsLocked())
		// billiard's _repopulate_pool: `if self._state != RUN: return`.
		stop := p.state == stateTerminate || (p.bill != nil && p.state != stateRun)
		p.mu.Unlock()
		if need <= 0 || stop {
			return
		}
		pr, err := p.spawn(p.pipes)
		if err != nil {
			return
		}
		p.mu.Lock()
		term := p.state == stateTerminate
		if !term {
			p.addProcLocked(pr)
		}
		p.mu.Unlock()
		if term {
			pr.Kill()
			p.reap(pr)
			return
		}
	}
}

// rearm sets *timer (made on first use) to fire at next and returns its
// channel, or nil, which never fires, if next is zero: a loop's wait for
// its next deadline, if it has one.
func rearm(timer **time.Timer, next time.Time) <-chan time.Time {
	if next.IsZero() {
		return nil
	}
	if *timer == nil {
		*timer = time.NewTimer(time.Until(next))
	} else {
		(*timer).Reset(time.Until(next))
	}
	return (*timer).C
}
