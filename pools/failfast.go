package pools

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// FailFast follows concurrent.futures.ProcessPoolExecutor: any worker
// death or unreadable result breaks the pool and fails every pending job.
const FailFast Strategy = "failfast"

func init() {
	Define(Definition{
		Name: FailFast, Order: 3,
		Models:  "concurrent.futures.ProcessPoolExecutor: a manager thread that breaks the pool at any worker death while it is in use",
		Follows: "CPython 3.11 concurrent.futures.ProcessPoolExecutor",
		Functions: []string{"ProcessPoolExecutor.submit", "_ExecutorManagerThread.run", "wait_result_broken_or_wakeup",
			"add_call_item_to_queue", "process_result_item", "terminate_broken", "join_executor_internals",
			"_process_worker", "_SafeQueue._on_queue_feeder_error"},
		SharedQueues: true,
		Worker:       failFastWorker,
		// Future.result and the manager thread's join: Condition.wait.
		InterruptibleWaits: true,
		Options:            []Option{OptionMaxTasks, OptionInitializer, OptionRecover, OptionChunkSize},
		Start: func(o Options) (Pool, error) {
			if o.Recover {
				return startReusable(FailFast, o)
			}
			return startAs(func(o Options) (*failFast, error) { return startFailFast(FailFast, o) })(o)
		},
	})
}

// failFast is concurrent.futures.ProcessPoolExecutor as of CPython 3.11
// (3.6 to 3.13 and main read the result the same way): a manager goroutine
// (_ExecutorManagerThread) waits on the result pipe, on submits and on
// every worker's death, and reads each result itself; any death while the
// pool is in use, with the result pipe empty, or any failure to read a
// result, breaks the pool.
type failFast struct {
	managed
	sharedQueues

	// Under core.mu. Everything that wakes the manager is recorded here
	// until the manager takes it, so a snapshot sees it (planManager).
	workIDs       []queued // submitted, not yet on the call queue
	inFlight      int      // on the call queue or in a worker
	sentSentinels bool
	feedq         [][]byte
	seenDead      map[*proc]bool // deaths the manager has taken
	cancelReq     bool           // shutdown(cancel_futures=True), not yet acted on
	killReq       bool           // loky's shutdown(kill_workers=True), not yet acted on
	exiting       map[int]bool   // pids that sent their exit message
	// idleTokens is 3.11's _idle_worker_semaphore, used under
	// max_tasks_per_child (failfast_retire.go).
	idleTokens int
	// holding counts the maps whose submits are not all in, during which
	// the manager takes no result and no death (mapSubmit).
	holding int
	// chunkLen is each pending chunk's length by its head job
	// (failfast_chunks.go).
	chunkLen map[int]int

	feedReady chan struct{} // capacity 1
	drained   chan struct{} // the manager emptied the result pipe (capacity 1)
	// resultsLeft: recv saw bytes left in the result pipe after a frame.
	// Only the manager reads the pipe, so they are there until it reads
	// again, and its next turn needs no FIONREAD to know it.
	resultsLeft atomic.Bool
	recvWait    *waitSpec // the manager's only
}

const (
	gManager = "manager"
	gFeeder  = "feeder"
	// extraQueuedCalls is how many calls beyond one per worker may sit in
	// the call queue. process.py's EXTRA_QUEUED_CALLS is 1, so that queued
	// futures can still be cancelled: a call moved to the call queue is
	// RUNNING (add_call_item_to_queue: set_running_or_notify_cancel), and
	// only one still PENDING can be cancelled. This model queues deeper:
	// at 1 the pipeline is latency-bound at ~45k tasks/s here, at 64 it
	// does ~150-190k. The one place the depth shows is a map that raised
	// (Map): CPython cancels every later job beyond the workers+1 calls
	// waiting on its call queue, this model only those beyond workers+64,
	// and the others run on. It changes no verdict: the caller has its
	// answer, and nothing waits for a job of that map again.
	extraQueuedCalls = 64
)

// failFastWorker is _process_worker: `except BaseException` around the
// call and around sending its result, and the exit message on the
// sentinel.
var failFastWorker = WorkerMode{CatchAll: true, SendEncodeError: true, SayExiting: true, InitReturns: true, HoldsQueueEnds: true}

// startFailFast starts a fail-fast pool whose workers serve strategy s.
func startFailFast(s Strategy, o Options) (*failFast, error) {
	c, err := newCore(s, o)
	if err != nil {
		return nil, err
	}
	p := &failFast{
		managed:  newManaged(c, gManager),
		seenDead: map[*proc]bool{}, exiting: map[int]bool{}, feedReady: make(chan struct{}, 1), drained: make(chan struct{}, 1),
	}
	c.resolverIDs = func() []string { return []string{gManager} }
	c.callbacks = callbacksLogged // Future._invoke_callbacks: LOGGER.exception, and on it goes
	if p.sharedQueues, err = c.startShared("call queue pipe", "result queue pipe"); err != nil {
		return nil, err
	}
	c.startG(gManager, RoleManager)
	c.startG(gFeeder, RoleFeeder)
	c.gs.Add(3)
	go p.manage()
	go p.feed()
	go p.pollResults()
	return p, nil
}

func (p *failFast) Snapshot() Snapshot {
	return p.snapshot(roles{taskWriter: gFeeder, resultReader: gManager, locks: true, pipes: []*pipe{p.tasks, p.results}})
}

// Submit follows ProcessPoolExecutor.submit.
func (p *failFast) Submit(ctx context.Context, t Task) (*Future, error) {
	return p.submit(ctx, t, func(q queued) {
		p.workIDs = append(p.workIDs, q)
		p.adjustOnSubmitLocked()
	})
}

// Map follows Executor.map (concurrent/futures/_base.py, CPython 3.11)
// as ProcessPoolExecutor.map runs it with chunksize 1 (one call per
// future):
//
//	fs = [self.submit(fn, *args) for args in zip(*iterables)]
//	def result_iterator():
//	    try:
//	        fs.reverse()
//	        while fs:
//	            yield _result_or_cancel(fs.pop())
//	    finally:
//	        for future in fs:
//	            future.cancel()
//
// A submit that raises (a broken pool) raises out of map at once, before
// any result is waited for. Otherwise the caller waits for each job's
// result in job order (_result_or_cancel: fut.result()), and the first
// job in order that failed raises out of the iterator without a wait for
// any later job; the generator's finally then cancels every later job.
// Future.cancel (3.11) succeeds only on a PENDING future: one the manager
// has not yet moved to the call queue, where add_call_item_to_queue calls
// set_running_or_notify_cancel (and drops a cancelled one). A job already
// moved to the call queue, taken by a worker or done is RUNNING or
// FINISHED: cancel returns False, and it goes on with nobody to read its
// result.
//
// The caller's answer: the values of the jobs before the failed one, its
// error, then ErrMapCancelled for each later job cancelled and
// ErrNotDelivered for each one that was running.
func (p *failFast) Map(ctx context.Context, ts []Task) ([]Result, error) {
	out := make([]Result, len(ts))
	fs := make([]*Future, 0, len(ts))
	// Under max_tasks_per_child the manager takes no result until the last
	// submit is in (mapSubmit, failfast_retire.go).
	submit := p.mapSubmit(len(ts))
	for i, t := range ts {
		f, err := submit(ctx, t)
		if err != nil {
			for j := range out {
				out[j] = Result{Err: err}
				if j < i {
					out[j].Err = ErrNotDelivered
				}
			}
			if err == ctx.Err() {
				return out, err
			}
			return out, nil
		}
		fs = append(fs, f)
	}
	k, err := p.waitInOrder(ctx, fs, out, true)
	if err != nil || k < 0 {
		return out, err
	}
	p.mu.Lock()
	cancelled := p.cancelLocked(fs[k+1:])
	p.mu.Unlock()
	for j := k + 1; j < len(fs); j++ {
		out[j] = Result{Err: ErrNotDelivered}
		if cancelled[fs[j].job] {
			out[j].Err = ErrMapCancelled
		}
	}
	return out, nil
}

// cancelLocked is Future.cancel on each of fs: a job not yet moved to the
// call queue (still in workIDs, so PENDING) is cancelled, resolved with
// ErrMapCancelled and never runs; any other is left alone. It returns the
// jobs it cancelled.
func (p *failFast) cancelLocked(fs []*Future) map[int]bool {
	want := map[int]bool{}
	for _, f := range fs {
		want[f.job] = true
	}
	cancelled := map[int]bool{}
	keep := p.workIDs[:0]
	for _, q := range p.workIDs {
		if want[q.job] && p.failChunkLocked(q.job, ErrMapCancelled) {
			cancelled[q.job] = true
			continue
		}
		keep = append(keep, q)
	}
	clear(p.workIDs[len(keep):])
	p.workIDs = keep
	p.reg.Bump()
	return cancelled
}

var (
	// ErrMapCancelled is a job of a failfast map that Executor.map's
	// result_iterator cancelled after an earlier job failed: it was
	// still PENDING (not yet on the call queue), so it never runs.
	ErrMapCancelled = errors.New("cancelled: the map raised at an earlier job before this one was on the call queue (Future.cancel)")
	// ErrNotDelivered is a job of a map that raised before delivering it:
	// an earlier job failed (or a submit raised) while this one was
	// already running or done, so it was not cancelled and nobody reads
	// its result.
	ErrNotDelivered = errors.New("not delivered: the map raised before this job's turn, and it was running or done, so not cancelled")
)

func (p *failFast) Terminate() error { return p.terminate(p.stopAll) }

// stopAll ends the goroutines' waits, kills and reaps every worker.
func (p *failFast) stopAll() {
	p.stopManager()
	p.killAll()
	p.closePipes()
}

// manage follows _ExecutorManagerThread.run and
// wait_result_broken_or_wakeup: move work to the call queue, then wait on
// the result pipe, the wakeup and every worker's sentinel. A readable
// result pipe comes first, and then the manager reads a whole result
// itself (result_reader.recv()), so a worker's exit message comes before
// its exit, results already written stay delivered, and a frame torn by
// a dying writer blocks the manager for good. Only with the pipe empty
// does a death break the pool.
func (p *failFast) manage() {
	defer p.gs.Done()
	defer close(p.managerDone)
	wait := &waitSpec{
		kind:      WaitEvents,
		what:      "a result, a worker's death or a submit",
		releasers: func() []string { return append(p.liveWorkerIDsLocked(), gCaller) },
		ready:     func() bool { st, _ := p.managerStateLocked(); return planManager(st).acts() },
	}
	for {
		p.mu.Lock()
		st, unseen := p.managerStateLocked()
		if pl := planManager(st); pl.acts() {
			if !p.applyLocked(pl, st.live, unseen) {
				return
			}
			continue
		}
		p.setGLocked(gManager, "waiting for a result, a worker's death or a submit", wait)
		p.mu.Unlock()
		select {
		case <-p.stop:
			p.doneG(gManager, "stopped by terminate")
			return
		case <-p.wake:
		case <-p.died:
		}
	}
}

// applyLocked carries out a plan that acts, for live workers and the
// deaths not yet seen. It is called with core.mu held and returns with it
// released; it reports false once the manager has ended.
func (p *failFast) applyLocked(pl managerPlan, live int, unseen []*proc) bool {
	switch {
	case pl.feed:
		p.addCallItemsLocked()
	case pl.sentinels:
		// join_executor_internals: one None per worker.
		for range live {
			p.feedq = append(p.feedq, sentinel())
		}
		notify(p.feedReady)
		p.sentSentinels = true
		p.reg.Bump()
	case pl.finish:
		p.mu.Unlock()
		p.doneG(gManager, "finished")
		p.stopAll() // ends the feeder and the poller; reaps
		return false
	case pl.cancel:
		p.cancelPendingLocked()
	case pl.kill:
		p.killWorkersLocked()
		return false
	case pl.recv:
		// `if result_reader in ready: result_item = result_reader.recv()`
		p.mu.Unlock()
		return p.recv()
	case pl.seeDeaths:
		for _, pr := range unseen {
			p.seenDead[pr] = true
		}
		if pl.abrupt >= 0 {
			// Taken: record it before letting go of the lock, or a
			// snapshot would see the old wait with nothing left to wake it.
			p.setGLocked(gManager, "handling a worker's death", nil)
			p.mu.Unlock()
			abrupt := unseen[pl.abrupt]
			st, _, _ := abrupt.State()
			p.breakPool(fmt.Sprintf("a child process terminated abruptly: pid %d %s", abrupt.PID, st))
			return false
		}
		p.reg.Bump()
	}
	p.mu.Unlock()
	return true
}

// managerState is what the manager decides from, read under core.mu.
type managerState struct {
	queued      int  // submitted, not yet on the call queue
	room        bool // the call queue takes another call
	closing     bool
	pending     int // jobs in the cache
	sentinels   bool
	live        int  // workers not known to have ended
	resultBytes bool // the result pipe has bytes
	cancel      bool // shutdown(cancel_futures=True) asks to cancel what is not running
	kill        bool // loky's shutdown(kill_workers=True) asks to fail everything and kill
	held        bool // a map is still submitting: no result or death is taken yet
	// deaths are the ended workers the manager has not taken yet, in the
	// pool's order: true for one that said it was exiting.
	deaths []bool
}

// A managerPlan is the manager's next step; at most one field is set.
type managerPlan struct {
	feed      bool // move submitted calls to the call queue
	sentinels bool // join_executor_internals: a None per live worker
	finish    bool // every worker has ended after its sentinel
	recv      bool // read a result
	cancel    bool // flag_executor_shutting_down: cancel what is not running
	kill      bool // loky's flag_executor_shutting_down with kill_workers (loky_shutdown.go)
	seeDeaths bool // take the unseen deaths
	abrupt    int  // with seeDeaths: the first abrupt death, which breaks the pool; -1 if none
}

// acts reports whether the plan does anything: whether the manager has
// something to do. A snapshot reads it as the manager's wait being ready.
func (pl managerPlan) acts() bool {
	return pl.feed || pl.sentinels || pl.finish || pl.recv || pl.cancel || pl.kill || pl.seeDeaths
}

// planManager is the decision of _ExecutorManagerThread.run and
// wait_result_broken_or_wakeup, in their order: add call items, shut down
// once closed and idle, finish once every worker is gone, read a
// readable result pipe before looking at any sentinel, and only with the
// pipe empty take a death, which breaks the pool unless the worker said it
// was exiting.
func planManager(st managerState) managerPlan {
	pl := managerPlan{abrupt: -1}
	switch {
	case st.queued > 0 && st.room:
		pl.feed = true
	case st.held:
		// A map's submits come first (failfast_retire.go): nothing to do
		// until its last one.
	case st.closing && st.pending == 0 && !st.sentinels:
		pl.sentinels = true
	case st.sentinels && st.live == 0:
		pl.finish = true
	case st.resultBytes:
		pl.recv = true
	case st.cancel:
		// A wakeup wins over a sentinel in wait_result_broken_or_wakeup
		// (`elif wakeup_reader in ready: is_broken = False`), and run()
		// then calls flag_executor_shutting_down before it looks again.
		pl.cancel = true
	case st.kill:
		// loky 3.3's wait_result_broken_or_wakeup has the same order.
		pl.kill = true
	case len(st.deaths) > 0:
		pl.seeDeaths = true
		for i, exiting := range st.deaths {
			if !exiting {
				pl.abrupt = i
				break
			}
		}
	}
	return pl
}

// managerStateLocked reads the manager's state, and the workers whose
// deaths it has not taken, in the order of st.deaths.
func (p *failFast) managerStateLocked() (managerState, []*proc) {
	st := managerState{
		queued: len(p.workIDs), room: p.inFlight < p.opts.Workers+extraQueuedCalls,
		closing: p.closing, pending: len(p.cache), sentinels: p.sentSentinels,
		live: p.liveCountLocked(), cancel: p.cancelReq, kill: p.killReq, held: p.holding > 0,
	}
	var unseen []*proc
	for _, pr := range p.procs {
		if pr.Dead() && !p.seenDead[pr] {
			unseen = append(unseen, pr)
			st.deaths = append(st.deaths, p.exiting[pr.PID])
		}
	}
	// FIONREAD is a syscall on the manager's every turn: ask it only when
	// the plan comes to the result pipe, past the steps that precede it.
	if pre := planManager(st); !st.held && !pre.feed && !pre.sentinels && !pre.finish {
		st.resultBytes = p.resultsLeft.Load() || p.results.buffered() > 0
	}
	return st, unseen
}

// liveCountLocked is len(liveProcsLocked()), without the slice.
func (p *failFast) liveCountLocked() int {
	n := 0
	for _, pr := range p.procs {
		if !pr.IsDead() {
			n++
		}
	}
	return n
}

// recv reads one result frame and hands it on, as the manager does inside
// wait_result_broken_or_wakeup (`except BaseException` around recv breaks
// the pool). It blocks until the whole frame is in: while it reads, no
// sentinel is looked at. It reports whether the manager goes on.
func (p *failFast) recv() bool {
	if p.recvWait == nil { // the same on every read: made once
		p.recvWait = &waitSpec{
			kind:      WaitFrameRest,
			what:      "the rest of a result frame on the result queue pipe",
			releasers: p.resultWritersLocked,
			ready:     func() bool { return p.results.readReady(p.reader.Counters()) },
			detail:    func() string { return frameDetail(p.reader) },
			torn:      func() bool { h, _ := p.reader.Progress(); return h > 0 },
		}
	}
	p.setG(gManager, "reading a result from the result queue pipe (result_reader.recv())", p.recvWait)
	p.resultsLeft.Store(false)
	f, err := p.reader.Next(fireAlloc)
	var r wireResult
	if err == nil {
		r, err = decodeResult(f.Job, f.Body)
	}
	if p.results.buffered() <= 0 {
		notify(p.drained)
	} else {
		p.resultsLeft.Store(true)
	}
	if err != nil {
		if p.stopped() {
			p.doneG(gManager, "stopped by terminate")
			return false
		}
		p.breakPool(fmt.Sprintf("a result could not be read: %v", err))
		return false
	}
	p.mu.Lock()
	p.setGLocked(gManager, "handling a result", nil)
	switch {
	case f.Job == jobExiting:
		// process_result_item: a worker that got its sentinel says so.
		pid, _ := strconv.Atoi(string(r.Value))
		p.exiting[pid] = true
	case p.resolveChunkLocked(f.Job, r):
		p.inFlight--
	}
	spawn := p.afterResultLocked(r)
	p.mu.Unlock()
	if spawn {
		p.replaceRetired()
	}
	return true
}

// resultWritersLocked names who could write the rest of a frame: the
// holder of the result write lock (a frame is written under it), else any
// live worker.
func (p *failFast) resultWritersLocked() []string {
	if h := p.reg.Lock(lockResultWrite).Holder(); h != 0 {
		return []string{holderID(h)}
	}
	return p.liveWorkerIDsLocked()
}

// pollResults is the result pipe's part of mp.connection.wait: it wakes
// the manager when the pipe has bytes, then waits until the manager has
// drained it. It never reads the pipe itself.
func (p *failFast) pollResults() {
	defer p.gs.Done()
	rc, err := p.results.r.SyscallConn()
	if err != nil {
		return
	}
	for {
		err := rc.Read(func(fd uintptr) bool {
			n, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ)
			return err != nil || n > 0
		})
		if err != nil {
			return // the pipe is closed: the pool has ended
		}
		notify(p.wake)
		select {
		case <-p.drained:
		case <-p.stop:
			return
		}
	}
}

// addCallItems follows add_call_item_to_queue and the queue feeder's
// pickling: a task that fails to encode gets its error
// (_SafeQueue._on_queue_feeder_error) and the pool goes on.
func (p *failFast) addCallItemsLocked() {
	for p.inFlight < p.opts.Workers+extraQueuedCalls && len(p.workIDs) > 0 {
		q := p.workIDs[0]
		p.workIDs = p.workIDs[1:]
		b, err := encodeQueued(q)
		if err != nil {
			p.failChunkLocked(q.job, &EncodeError{What: "task", Err: err})
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
	// The manager runs from here on: a snapshot taken while it kills the
	// workers must not see it still blocked in recv, behind a frame the
	// kill itself may tear.
	p.setGLocked(gManager, "breaking the pool", nil)
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
	wait := &waitSpec{kind: WaitEvents, what: "a task from the manager", releasers: func() []string { return []string{gManager} },
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
			kind: WaitPipeRoom, what: "room in the call queue pipe", releasers: p.liveWorkerIDsLocked,
			ready: p.tasks.roomFor(len(b)),
		})
		p.mu.Unlock()
		if err := p.tasks.send(b); err != nil {
			p.doneG(gFeeder, "stopped: error writing the call queue pipe")
			return
		}
	}
}
