package pools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/pools/internal/frame"
	"github.com/poolhang/poolhang/pools/internal/shm"
)

// Pebble follows pebble 5.0's ProcessPool (pebble/pool/process.py,
// channel.py, base_pool.py): workers take a task and acknowledge it
// inside one process-shared channel lock, and the parent fails only the
// task whose worker died, if it has handled that worker's ACK.
const Pebble Strategy = "pebble"

// PebbleLockTimeout is pebble 5.0's LOCK_TIMEOUT (pebble/pool/channel.py):
// how long ChannelMutex waits for each of its two locks before it raises
// ChannelError. Options.LockTimeout takes it, or a shorter one.
const PebbleLockTimeout = 60 * time.Second

func init() {
	Define(Definition{
		Name: Pebble, Order: 7,
		Models:  "pebble.ProcessPool: a task scheduler, a message manager and a pool manager; workers take and acknowledge a task inside one channel lock; a death fails the task its worker acknowledged",
		Follows: "pebble 5.0 ProcessPool (Debian's python3-pebble)",
		Functions: []string{"ProcessPool.schedule", "ProcessPool.map", "task_scheduler_loop", "message_manager_loop", "pool_manager_loop",
			"iter_chunks", "process_chunk", "map_results", "MapResults", "chunk_result", "worker_get_next_task", "WorkerManager.create_workers",
			"PoolManager.schedule", "PoolManager.process_next_message", "PoolManager.update_tasks", "PoolManager.update_workers",
			"PoolManager.handle_worker_expiration", "PoolManager.find_expired_task", "TaskManager.task_start", "TaskManager.task_done",
			"WorkerManager.inspect_workers", "WorkerManager.stop_worker", "worker_process", "fetch_task", "task_transaction", "send_result",
			"channel.WorkerChannel", "channel.ChannelMutex", "BasePool.join", "BasePool._wait_queue_depletion"},
		SharedQueues: true,
		IdleUnlocked: "pebble's idle workers wait in channel.poll() without the channel lock and take it only to receive and acknowledge a ready task (pebble/pool/process.py fetch_task, task_transaction)",
		// worker_process: `signal(SIGINT, SIG_IGN)` first thing; the
		// caller's Future.result is Condition.wait, which a SIGINT
		// interrupts on Python 3.
		Worker:             WorkerMode{Loop: pebbleWorker, IgnoreSIGINT: true},
		InterruptibleWaits: true,
		Options:            []Option{OptionTaskTimeout, OptionLockTimeout, OptionChunkSize, OptionMaxTasks, OptionInitializer},
		Start:              startAs(startPebble),
	})
}

// ErrPebbleError is every pending submit's error once the pool is in
// pebble's ERROR state: BasePool._check_pool_state raises
// RuntimeError('Unexpected error within the Pool'). Jobs already pending
// are not failed: nothing sets their futures any more.
var ErrPebbleError = fmt.Errorf("%w (pebble: RuntimeError: Unexpected error within the Pool)", ErrBrokenPool)

// errChannelTimeout is pebble's ChannelError("Channel mutex time out"),
// an OSError: worker_process exits with code 1 on it.
var errChannelTimeout = errors.New("ChannelError: Channel mutex time out")

// ACK frames: an Acknowledgement(worker, task) travels on the result pipe
// as a frame whose job id is ackJob(job) and whose body is the pid.
const jobAckBase = -3

func ackJob(job int) int     { return jobAckBase - job }
func ackedJob(id int) int    { return jobAckBase - id }
func isAck(id int) bool      { return id <= jobAckBase }
func pidBody(pid int) []byte { return []byte(strconv.Itoa(pid)) }

// pebbleWorker follows worker_process, fetch_task, task_transaction and
// send_result. Exits: end of file on the task pipe is `except EOFError:
// os._exit(0)`; a ChannelError (a lock timeout) is an OSError, os._exit(1);
// anything else uncaught (an error or SystemExit while the task is
// unpickled, SystemExit from the function, an error pickling the result
// that is not a PicklingError or TypeError) ends the process as Python
// does: code 1, or SystemExit's code.
func pebbleWorker(w *worker) error {
	timeout := time.Duration(w.reg.Param().Load())
	for done := 0; ; { // done: tasks whose result is sent
		if w.retire(done) {
			// worker_get_next_task: `while max_tasks == 0 or
			// next(counter) < max_tasks` ends, worker_process returns:
			// exit code 0 with no task, which inspect_workers does not
			// report (planExpiry: expiryRetired) and create_workers
			// replaces.
			return nil
		}
		// fetch_task: `while channel.poll()`, with no lock held. No frame
		// is in progress: the last one is handled.
		w.slot.Have().Store(0)
		w.slot.Need().Store(0)
		w.slot.set(wReadTask, -1)
		if !pollTasks(-1) {
			return nil
		}
		// task_transaction: `with channel.lock`, which is ChannelMutex
		// acquiring its reader mutex, then its writer mutex, each with
		// LOCK_TIMEOUT. If the second times out, __enter__ raises
		// without releasing the first: the worker dies holding it.
		if !w.lockFor(lockTaskRead, wWaitTaskLock, -1, timeout) {
			return errChannelTimeout
		}
		if !w.lockFor(lockResultWrite, wWaitResultLock, -1, timeout) {
			return errChannelTimeout
		}
		if !pollTasks(0) {
			// RuntimeError("Race condition between workers"): another
			// worker got the task; fetch_task polls again.
			w.unlockTransaction()
			continue
		}
		w.slot.set(wReadTask, -1)
		f, err := w.tasks.Next(nil)
		if err != nil {
			// EOFError (or an OSError) reading the pipe: the pool is
			// gone. It propagates through `with channel.lock`, whose
			// __exit__ releases both mutexes, so a worker still polling
			// reads the EOF too instead of waiting for them for good.
			w.unlockTransaction()
			return nil
		}
		// Connection.recv unpickles inside the lock.
		w.slot.set(wDecodeTask, int64(f.Job))
		calls, err := frame.DecodeTask(f.Body, func(k int, ts []trig) error {
			if hasPoint(ts, PointTaskDecode) {
				// The side of the workers' race the model takes: a
				// fault here strikes once earlier jobs' results are
				// out (awaitEarlierResults). Only the writer mutex is
				// let go meanwhile, so no other worker can take a task.
				w.reg.Lock(lockResultWrite).Release()
				w.awaitEarlierResults(f.Job + k)
				w.lockFor(lockResultWrite, wWaitResultLock, f.Job+k, 0)
				w.slot.set(wDecodeTask, int64(f.Job+k))
			}
			return fire(ts, PointTaskDecode, f.Job+k, true, w.await)
		})
		if err != nil {
			w.unlockTransaction() // the with statement releases on the way out
			return err
		}
		// channel.send(Acknowledgement(os.getpid(), task.id)), under the
		// writer mutex the transaction holds.
		w.slot.set(wWriteResult, int64(f.Job))
		if err := w.write(frameOf(ackJob(f.Job), pidBody(int(w.pid)))); err != nil {
			w.unlockTransaction() // the with statement releases on the way out
			return nil
		}
		w.endTransactionFor(calls) // pebble_strike.go
		values, ran, err := w.runPebble(f.Job, calls)
		if err != nil && IsExitRequest(err) {
			w.dropKeptReader()
			return err // process_execute catches Exception: SystemExit ends the worker
		}
		if err := w.sendResult(f.Job, resultOf(values, err, resultTrigs(ran)), timeout); err != nil {
			return err
		}
		done++
	}
}

// frameOf is a frame with no allocation trigger.
func frameOf(job int, body []byte) []byte { return frame.Append(nil, job, trig{}, body) }

// lockFor takes lock i as state st (holding job), waiting at most timeout.
func (w *worker) lockFor(i int, st wstate, job int, timeout time.Duration) bool {
	w.slot.set(st, int64(job))
	w.slot.SetWaitLock(i)
	ok := w.reg.Lock(i).AcquireTimeout(w.pid, timeout)
	w.slot.ClearWaitLock()
	return ok
}

func (w *worker) unlockTransaction() {
	w.reg.Lock(lockResultWrite).Release()
	w.reg.Lock(lockTaskRead).Release()
}

// sendResult is send_result: WorkerChannel.send takes the writer mutex,
// then Connection.send pickles and writes, so the result is encoded
// inside the lock. A result-write trigger acts after half the frame is
// out, the lock still held.
func (w *worker) sendResult(job int, r wireResult, timeout time.Duration) error {
	if strikesInWriter(r.Trigs) {
		w.awaitEarlierResults(job)
	}
	ok := w.lockFor(lockResultWrite, wWaitResultLock, job, timeout)
	w.dropKeptReader()
	if !ok {
		return errChannelTimeout
	}
	w.slot.set(wEncodeResult, int64(job))
	b, err := encodeResult(job, r, w.await)
	if err != nil {
		w.reg.Lock(lockResultWrite).Release()
		return err // not a PicklingError or TypeError: uncaught
	}
	w.slot.set(wWriteResult, int64(job))
	for _, t := range r.Trigs {
		if Point(t.At) == PointResultWrite {
			half := len(b) / 2
			if err := w.write(b[:half]); err != nil {
				return nil
			}
			b = b[half:]
			if err := fire([]trig{t}, PointResultWrite, job, true, w.await); err != nil {
				return err
			}
		}
	}
	err = w.write(b)
	w.reg.Lock(lockResultWrite).Release()
	if err != nil {
		return nil // the pool closed the pipe
	}
	return nil
}

func hasPoint(ts []trig, p Point) bool {
	for _, t := range ts {
		if Point(t.At) == p {
			return true
		}
	}
	return false
}

// strikesInWriter reports whether a trigger of r acts while the writer
// mutex is held (result-encode, result-write).
func strikesInWriter(ts []trig) bool {
	for _, t := range ts {
		if p := Point(t.At); p == PointResultEncode || p == PointResultWrite {
			return true
		}
	}
	return false
}

// awaitEarlierResults is where a fault that strikes inside the writer
// mutex strikes: once no live worker holds an earlier job whose result it
// has yet to write. A death holding the writer mutex blocks every result
// not yet written; whether an earlier job's result was still out when it
// struck is a race between workers, in pebble as here, that decides
// whether a map raises at the dead worker's job or waits for ever at the
// earlier one. The model takes the first side, deterministically: the
// strike waits (holding no lock) for the earlier results to go out.
func (w *worker) awaitEarlierResults(job int) {
	for {
		pending := false
		for i := range shm.MaxSlots {
			o := slotOf(w.reg, i)
			pid := int(o.PID().Load())
			if pid == 0 || pid == int(w.pid) {
				continue
			}
			if j := o.Job().Load(); j < 0 || j >= int64(job) || o.Point().Load() != 0 {
				continue // no earlier job, or stopped at a point for good (a task that never returns)
			}
			switch o.state() {
			case wRunTask, wEncodeResult, wWriteResult:
				pending = pending || alive(pid)
			case wWaitResultLock:
				// Only if the writer mutex can come to it.
				h := w.reg.Lock(lockResultWrite).Holder()
				pending = pending || ((h == 0 || h == int(w.pid) || alive(h)) && alive(pid))
			}
		}
		if !pending {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// alive reports whether pid is a live process (not a zombie), from
// /proc/PID/stat.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// pollTasks is Channel.poll on the task pipe: it waits up to ms
// milliseconds (-1: for ever) and reports whether a task is there to
// read; false on end of file (every writer gone) with nothing left.
func pollTasks(ms int) bool {
	fds := []unix.PollFd{{Fd: fdTasks, Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return false
		}
		return fds[0].Revents&unix.POLLIN != 0
	}
}

// pebblePool is pebble's ProcessPool.
type pebblePool struct {
	managed // manager: the pool manager; broken: pebble's ERROR state
	sharedQueues
	pebbleStart

	lockTimeout time.Duration

	// Under core.mu.
	taskq      []queued            // context.task_queue, for the task scheduler
	registered map[int]*pebbleTask // TaskManager.tasks
	popped     map[*proc]bool      // workers WorkerManager.workers no longer holds
	seen       map[*proc]int64     // deaths the pool manager saw: result bytes written by then
	handled    int64               // result bytes the message manager has handled
	stopping   bool                // join or terminate stopped the pool (STOPPED)
	workers    map[int]*proc       // WorkerManager.workers, by pid
	replaced   int                 // replacements started
	// inspecting counts deaths popped from workers and not yet handled.
	inspecting int
	chunks     map[int]*pebbleChunk // a map's chunks by head job (pebble_chunks.go)

	taskReady chan struct{} // capacity 1
	run       []queued      // the scheduler's turn, reused
	runBuf    []byte        // the frames of a run, reused
	turn      chan struct{} // closed (and replaced) after each turn of the pool manager
	quiet     chan struct{} // closed once closing with nothing pending, or in ERROR
	quietOnce sync.Once
}

// pebbleTask is pebble's Task as the TaskManager holds it.
type pebbleTask struct {
	worker  int       // Task.worker_id: the pid that acknowledged it, 0 before
	started time.Time // Task.timestamp
	ackEnd  int64     // where its ACK ends in the result stream
}

const (
	gScheduler = "task scheduler"
	gMessages  = "message manager"
	gPoolMgr   = "pool manager"
)

func startPebble(o Options) (*pebblePool, error) {
	c, err := newCore(Pebble, o)
	if err != nil {
		return nil, err
	}
	c.reg.Param().Store(int64(o.LockTimeout))
	p := &pebblePool{
		managed: newManaged(c, gPoolMgr), lockTimeout: o.LockTimeout,
		registered: map[int]*pebbleTask{}, popped: map[*proc]bool{}, workers: map[int]*proc{},
		taskReady: make(chan struct{}, 1), turn: make(chan struct{}), quiet: make(chan struct{}),
	}
	c.resolverIDs = func() []string { return []string{gMessages, gPoolMgr} }
	// TaskManager.task_done sets the result on a concurrent.futures
	// Future (pebble.common.ProcessFuture), whose _invoke_callbacks runs
	// each done-callback after set_result and logs an Exception.
	c.callbacks = callbacksLogged
	c.cacheEmptied = func() {
		if p.closing {
			p.quietOnce.Do(func() { close(p.quiet) })
		}
	}
	if o.InitFails {
		return p, p.createLazy() // pebble_start.go
	}
	if p.sharedQueues, err = c.startShared("task pipe", "result pipe"); err != nil {
		return nil, err
	}
	p.startLoops()
	return p, nil
}

func (p *pebblePool) Snapshot() Snapshot {
	r := roles{taskWriter: gScheduler, resultReader: gMessages, locks: true, lockTimeout: p.lockTimeout > 0, pipes: []*pipe{p.tasks, p.results}}
	if p.opts.TaskTimeout > 0 {
		r.deadline = gPoolMgr
	}
	return p.snapshot(r)
}

// Submit is ProcessPool.schedule: _check_pool_state, then the task goes
// on the task queue for the scheduler.
//
// pebble's pool manager inspects deaths every SLEEP_UNIT, so a schedule
// right after a death races with it. The model takes the side where the
// pool manager's turn comes first: a schedule waits until every death
// is inspected.
func (p *pebblePool) Submit(ctx context.Context, t Task) (*Future, error) {
	if err := p.startAtSchedule(); err != nil {
		return nil, err
	}
	if err := p.awaitInspection(ctx); err != nil {
		return nil, err
	}
	f, err := p.submit(ctx, t, func(q queued) {
		p.taskq = append(p.taskq, q)
		notify(p.taskReady)
	})
	if errors.Is(err, ErrBrokenPool) {
		err = ErrPebbleError
	}
	return f, err
}

// deadUninspectedLocked reports whether a worker has died that the pool
// manager, still running, has yet to inspect.
func (p *pebblePool) deadUninspectedLocked() bool {
	if p.broken != nil || p.stopping || p.beforeFirstTurnLocked() {
		return false
	}
	if p.inspecting > 0 {
		return true
	}
	for _, pr := range p.workers {
		if pr.IsDead() {
			return true
		}
	}
	return false
}

// awaitInspection waits, as the caller, until the pool manager has
// inspected every death.
func (p *pebblePool) awaitInspection(ctx context.Context) error {
	p.mu.Lock()
	dead := p.deadUninspectedLocked()
	p.mu.Unlock()
	if !dead {
		return nil
	}
	w := p.enterWait(waitSpec{kind: WaitEvents, what: "the pool manager to inspect a worker's death",
		releasers: func() []string { return []string{gPoolMgr} }, ready: func() bool { return !p.deadUninspectedLocked() }})
	defer p.leaveWait(w)
	for {
		p.mu.Lock()
		dead, turn := p.deadUninspectedLocked(), p.turn
		p.mu.Unlock()
		if !dead {
			return nil
		}
		select {
		case <-turn:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// endTurnLocked tells callers waiting for the pool manager that it has
// taken a turn.
func (p *pebblePool) endTurnLocked() {
	close(p.turn)
	p.turn = make(chan struct{})
}

// Map is ProcessPool.map with chunksize 1, iterated as a caller does:
// MapResults yields the results in order and raises at the first error,
// so the jobs after it are never waited for; they carry that error.
func (p *pebblePool) Map(ctx context.Context, ts []Task) ([]Result, error) {
	out := make([]Result, len(ts))
	fs := make([]*Future, 0, len(ts))
	var refused error
	for i, t := range ts {
		f, err := p.Submit(ctx, t)
		if err != nil {
			for j := i; j < len(ts); j++ {
				out[j] = Result{Err: err}
			}
			refused = err
			break
		}
		fs = append(fs, f)
	}
	if refused != nil && refused == ctx.Err() {
		return out, refused // ctx ended before every job was admitted
	}
	return p.mapResults(ctx, fs, out)
}

// mapResults iterates MapResults as a caller does: the results of fs in
// order (out[i] is fs[i]'s), raising at the first error.
func (p *pebblePool) mapResults(ctx context.Context, fs []*Future, out []Result) ([]Result, error) {
	// first is the job the caller waits for: the first unresolved one
	// before any failed one; -1 once the iteration can end.
	first := func() int {
		for _, f := range fs {
			r, ok := f.Result()
			if !ok {
				return f.job
			}
			if r.Err != nil {
				return -1
			}
		}
		return -1
	}
	w := p.enterWait(waitSpec{kind: WaitJobResult, what: fmt.Sprintf("the results of a map of %d jobs", len(fs)),
		job: first, releasers: p.resolverIDs, ready: func() bool { return first() < 0 }})
	defer p.leaveWait(w)
	var failed error
	for i, f := range fs {
		if failed != nil {
			out[i] = Result{Err: failed}
			continue
		}
		select {
		case <-f.done:
			out[i] = f.res
			failed = f.res.Err
		case <-ctx.Done():
			// Jobs answered by now keep their answers, whether or not
			// the caller had come to them.
			stop := false
			for j := i; j < len(fs); j++ {
				r, ok := fs[j].Result()
				switch {
				case failed != nil:
					out[j] = Result{Err: failed}
				case stop || !ok:
					out[j], stop = Result{Err: ctx.Err()}, true
				default:
					out[j], failed = r, r.Err
				}
			}
			return out, ctx.Err()
		}
	}
	return out, nil
}

// Close is BasePool.close: the state becomes CLOSED; the work goes on.
func (p *pebblePool) Close() error {
	p.mu.Lock()
	p.closing = true
	if len(p.cache) == 0 {
		p.quietOnce.Do(func() { close(p.quiet) })
	}
	p.reg.Bump()
	p.mu.Unlock()
	return nil
}

// Join is BasePool.join on a CLOSED pool: _wait_queue_depletion (while
// the pool is active and tasks are unfinished), then stop and
// _stop_pool: the channels are closed and every worker is stopped.
func (p *pebblePool) Join(ctx context.Context) error {
	p.mu.Lock()
	running := !p.closing && p.broken == nil
	p.mu.Unlock()
	if running {
		return errors.New("pools: Join on a running pool: Close or Terminate first (pebble: RuntimeError('The Pool is still running'))")
	}
	if err := p.waitDone(ctx, "the task queue to deplete", p.resolverIDs, p.quiet, func() bool { return isClosed(p.quiet) }); err != nil {
		return err
	}
	p.stopPool()
	return p.joinRest(ctx, nil)
}

func (p *pebblePool) Terminate() error { return p.terminate(p.stopPool) }

// stopPool is stop() and _stop_pool: STOPPED, the pool manager's loop
// ends, PoolManager.stop closes the channels and stops every worker.
func (p *pebblePool) stopPool() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	if p.neverStarted() {
		p.closePipes()
		return
	}
	p.stopManager()
	// The pool manager may be starting a replacement on these pipes:
	// let it see the stop first (it kills one started meanwhile).
	<-p.managerDone
	p.killAll()
	p.closePipes()
}

// enterError puts the pool in ERROR (context.state = ERROR): the loops
// end at their next turn and nothing sets a pending future again.
func (p *pebblePool) enterErrorLocked(why string) {
	if p.broken != nil {
		return
	}
	p.broken = fmt.Errorf("%w: %s", ErrPebbleError, why)
	p.quietOnce.Do(func() { close(p.quiet) })
	// message_manager_loop polls with SLEEP_UNIT and then sees the
	// state: wake its read.
	p.results.r.SetReadDeadline(time.Now())
	p.reg.Bump()
}

// schedule follows task_scheduler_loop and PoolManager.schedule: register
// the task, then dispatch it (pickle and write it to the task pipe).
// dispatch lets only PicklingError and TypeError become the task's
// problem; any other error escapes the loop, which catches only
// BrokenProcessPool, and the thread dies.
func (p *pebblePool) schedule() {
	defer p.gs.Done()
	queueWait := &waitSpec{kind: WaitEvents, what: "a task on the task queue",
		ready: func() bool { return len(p.taskq) > 0 }, releasers: func() []string { return []string{gCaller} }}
	for {
		p.mu.Lock()
		for len(p.taskq) == 0 {
			p.setGLocked(gScheduler, "waiting on the task queue", queueWait)
			p.mu.Unlock()
			select {
			case <-p.taskReady:
			case <-p.stop:
				p.doneG(gScheduler, "stopped")
				return
			}
			p.mu.Lock()
		}
		n := p.runLocked()
		qs := append(p.run[:0], p.taskq[:n]...)
		p.taskq = p.taskq[n:]
		for _, q := range qs {
			p.registered[q.job] = &pebbleTask{}
		}
		if n == 1 {
			p.setGLocked(gScheduler, fmt.Sprintf("encoding job %d", qs[0].job), nil)
		} else {
			p.setGLocked(gScheduler, fmt.Sprintf("encoding jobs %d to %d", qs[0].job, qs[n-1].job), nil)
		}
		p.mu.Unlock()
		if !p.dispatch(qs) {
			return
		}
		p.run = qs[:0]
	}
}

// messages follows message_manager_loop and process_next_message: an
// Acknowledgement is task_start (the task now belongs to that worker and
// its timeout runs), a Result is task_done. WorkerManager.receive turns
// OSError and TypeError into BrokenProcessPool (ERROR) and EOFError into
// no message; anything else (an unpickling error, SystemExit, a
// MemoryError) escapes the loop and the thread dies.
func (p *pebblePool) messages() {
	defer p.gs.Done()
	readWait := &waitSpec{
		kind: WaitResultPipe, what: "a message on the result pipe",
		releasers: p.liveWorkerIDsLocked,
		ready:     func() bool { return p.results.readReady(p.reader.Counters()) },
		detail:    func() string { return frameDetail(p.reader) },
		torn:      func() bool { h, _ := p.reader.Progress(); return h > 0 },
	}
	for {
		p.mu.Lock()
		if p.broken != nil || p.stopping {
			p.endGLockedDone(gMessages, "stopped: the pool is no longer alive (context.alive is false)")
			p.mu.Unlock()
			return
		}
		p.setGLocked(gMessages, "reading the result pipe", readWait)
		p.mu.Unlock()
		f, err := p.reader.Next(fireAlloc)
		if err != nil {
			p.mu.Lock()
			gone := p.broken != nil || p.stopping || isEOFOrIO(err) || errors.Is(err, os.ErrDeadlineExceeded)
			p.mu.Unlock()
			if gone {
				p.doneG(gMessages, "stopped: the pool is no longer alive (context.alive is false)")
			} else {
				p.dieG(gMessages, "died of an uncaught error reading the result pipe: "+err.Error())
			}
			p.wakeManager()
			return
		}
		if isAck(f.Job) {
			pid, _ := strconv.Atoi(string(f.Body))
			p.mu.Lock()
			p.handled = p.results.read.Load()
			if t, ok := p.registered[ackedJob(f.Job)]; ok {
				t.worker, t.started, t.ackEnd = pid, time.Now(), p.handled
			}
			wake := p.opts.TaskTimeout > 0 || p.deathPendingLocked()
			p.mu.Unlock()
			if wake {
				p.wakeManager() // a timeout armed, or a death waiting for this message
			}
			continue
		}
		p.setG(gMessages, fmt.Sprintf("decoding the result of job %d", f.Job), nil)
		r, err := decodeResult(f.Job, f.Body)
		if err != nil {
			p.dieG(gMessages, fmt.Sprintf("died of an uncaught error decoding the result of job %d: %v", f.Job, err))
			p.wakeManager()
			return
		}
		p.mu.Lock()
		p.resultLocked(f.Job, r)
		p.handled = p.results.read.Load()
		wake := p.deathPendingLocked()
		p.mu.Unlock()
		if wake {
			p.wakeManager()
		}
	}
}

func (p *pebblePool) wakeManager() { notify(p.wake) }

// deathPendingLocked reports whether a worker has died that the pool
// manager has yet to inspect: only then does a message handled concern it
// (a timeout aside), so the message manager leaves it asleep otherwise.
func (p *pebblePool) deathPendingLocked() bool {
	for _, pr := range p.workers {
		if pr.IsDead() {
			return true
		}
	}
	return false
}

// taskDoneLocked is TaskManager.task_done: a task no longer registered
// (one that timed out) is ignored.
func (p *pebblePool) taskDoneLocked(job int, r Result) {
	if _, ok := p.registered[job]; !ok {
		return
	}
	delete(p.registered, job)
	p.resolveTaskLocked(job, r)
}

// manage follows pool_manager_loop: update_status (update_tasks, then
// update_workers) every SLEEP_UNIT until the pool is no longer alive. The
// model is woken by what its turn would find instead: a death, a message
// handled, a task's timeout, a stop.
//
// pebble's pool manager and message manager race: a death is inspected at
// the next SLEEP_UNIT tick, and its task is failed only if the message
// manager has already handled the dead worker's ACK. The model takes the
// side the real pool almost always takes, deterministically: a death is
// inspected once the message manager has handled every message written
// before the pool manager saw it (or has stopped reading).
func (p *pebblePool) manage() {
	defer p.gs.Done()
	defer close(p.managerDone)
	wait := &waitSpec{
		kind: WaitEvents, what: "a worker's death, a message handled or a task's timeout",
		releasers: p.managerReleasersLocked,
		// Told to stop, it ends at its next turn (pool_manager_loop's
		// `while context.alive`): ready until it does, or a stop()
		// then join() would be proven stuck on it in the moment before
		// the manager wakes.
		ready: func() bool { return p.stopping || p.planLocked(time.Now()).acts() },
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		p.mu.Lock()
		if p.stopping {
			p.endGLockedDone(gPoolMgr, "stopped: the pool is no longer alive")
			p.endTurnLocked()
			p.mu.Unlock()
			return
		}
		pl := p.planLocked(time.Now())
		if !pl.acts() {
			p.setGLocked(gPoolMgr, "waiting for a worker's death, a message handled or a task's timeout", wait)
			next := p.nextTimeoutLocked()
			if p.deathPendingLocked() {
				// A death waits for the message manager to read up to
				// it, which it may do without handling a message (the
				// rest of a torn frame never comes): look again soon,
				// as pool_manager_loop does every SLEEP_UNIT.
				if soon := time.Now().Add(recheckDeath); next.IsZero() || soon.Before(next) {
					next = soon
				}
			}
			p.mu.Unlock()
			tc := rearm(&timer, next)
			select {
			case <-p.stop:
			case <-p.wake:
			case <-p.died:
			case <-tc:
			}
			continue
		}
		p.setGLocked(gPoolMgr, "updating the pool's status", nil)
		p.mu.Unlock()
		why := p.apply(pl)
		p.mu.Lock()
		if why != "" {
			p.enterErrorLocked(why)
			p.endGLockedDone(gPoolMgr, "stopped: "+why+"; pool_manager_loop sets the state to ERROR")
		}
		p.endTurnLocked()
		p.mu.Unlock()
		if why != "" {
			return
		}
	}
}

// A pebblePlan is one turn of update_status.
type pebblePlan struct {
	timeouts []int   // update_tasks: jobs past their timeout
	expired  []*proc // inspect_workers: deaths to handle now
	create   int     // create_workers
}

func (pl pebblePlan) acts() bool { return len(pl.timeouts) > 0 || len(pl.expired) > 0 || pl.create > 0 }

// planLocked is what the pool manager's turn would do now.
func (p *pebblePool) planLocked(now time.Time) pebblePlan {
	var pl pebblePlan
	if p.broken != nil || p.stopping || p.beforeFirstTurnLocked() {
		return pl
	}
	if to := p.opts.TaskTimeout; to > 0 {
		for job, t := range p.registered {
			if t.worker != 0 && now.Sub(t.started) > to {
				pl.timeouts = append(pl.timeouts, job)
			}
		}
		sort.Ints(pl.timeouts)
	}
	pids := make([]int, 0, len(p.workers))
	for pid := range p.workers {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	for _, pid := range pids {
		pr := p.workers[pid]
		if !pr.IsDead() {
			continue
		}
		if p.ackFirstLocked(pr.resAt) {
			pl.expired = append(pl.expired, pr)
		}
	}
	pl.create = p.opts.Workers - (len(p.workers) - len(pl.expired))
	return pl
}

// ackFirstLocked reports whether the message manager has handled every
// message written before w0, or stopped reading: every complete frame
// below w0 is handled once it holds only part of a frame past them.
func (p *pebblePool) ackFirstLocked(w0 int64) bool {
	if g, ok := p.parties[gMessages]; !ok || g.done {
		return true
	}
	if p.handled >= w0 {
		return true
	}
	have, need := p.reader.Progress()
	incomplete := have > 0 && (need == 0 || have < need)
	return incomplete && p.results.read.Load() >= w0
}

// recheckDeath is how soon the pool manager looks again at a death that
// is not yet inspectable (pebble's SLEEP_UNIT is 0.1 s; the model's
// decision does not depend on it, only how soon it comes).
const recheckDeath = time.Millisecond

func (p *pebblePool) managerReleasersLocked() []string {
	ids := append(p.liveWorkerIDsLocked(), gMessages)
	if !p.nextTimeoutLocked().IsZero() || p.deathPendingLocked() {
		ids = append(ids, Clock)
	}
	return ids
}

// nextTimeoutLocked is when the earliest started task times out; zero
// if none will.
func (p *pebblePool) nextTimeoutLocked() time.Time {
	var next time.Time
	if p.opts.TaskTimeout <= 0 {
		return next
	}
	for _, t := range p.registered {
		if t.worker != 0 {
			if d := t.started.Add(p.opts.TaskTimeout); next.IsZero() || d.Before(next) {
				next = d
			}
		}
	}
	return next
}

// apply runs one turn of update_status; it returns why the pool broke
// (BrokenProcessPool, which ends the loop in ERROR), or "".
func (p *pebblePool) apply(pl pebblePlan) string {
	for _, job := range pl.timeouts {
		if why := p.timeOut(job); why != "" {
			return why
		}
	}
	// inspect_workers pops every expired worker (Process.is_alive reaps
	// it), then each is handled.
	type death struct {
		pr *proc
		x  Exit
	}
	var ds []death
	p.mu.Lock()
	for _, pr := range pl.expired {
		delete(p.workers, pr.PID)
	}
	p.inspecting = len(pl.expired)
	p.mu.Unlock()
	for _, pr := range pl.expired {
		ds = append(ds, death{pr, p.reap(pr)})
	}
	p.mu.Lock()
	for _, d := range ds {
		// The running tasks as the death found them: acknowledged in
		// the result stream before it (the model's pool manager takes
		// its turn at the death, not SLEEP_UNIT later).
		running := map[int]int{}
		for job, t := range p.registered {
			if t.worker != 0 && t.ackEnd <= d.pr.resAt {
				running[job] = t.worker
			}
		}
		switch what, job := planExpiry(d.x, d.pr.PID, running); what {
		case expiryTask:
			p.taskDoneLocked(job, Result{Err: &WorkerLost{PID: d.pr.PID, Status: d.x, Phase: d.pr.last.phase(), Attempts: 1}})
		case expiryAll:
			p.inspecting = 0
			p.mu.Unlock()
			return `BrokenProcessPool("All workers expired") from find_expired_task: no task is running`
		}
	}
	p.inspecting = 0
	n := p.opts.Workers - len(p.workers)
	p.mu.Unlock()
	for range n {
		pr, err := p.spawn(p.pipes)
		if err != nil {
			return "BrokenProcessPool from WorkerManager.new_worker: " + err.Error()
		}
		p.mu.Lock()
		if p.stopping {
			p.mu.Unlock()
			pr.Kill()
			p.reap(pr)
			return ""
		}
		p.addProcLocked(pr)
		p.workers[pr.PID] = pr
		p.replaced++
		p.mu.Unlock()
	}
	return ""
}

// timeOut is update_tasks for one task: WorkerManager.stop_worker takes
// the channel lock (both mutexes, each with LOCK_TIMEOUT: a ChannelError
// becomes BrokenProcessPool), stops the worker that acknowledged the
// task, and task_done sets TimeoutError.
func (p *pebblePool) timeOut(job int) string {
	p.mu.Lock()
	t, ok := p.registered[job]
	var pr *proc
	if ok {
		pr = p.workers[t.worker]
	}
	p.mu.Unlock()
	if pr != nil {
		me := uint32(os.Getpid())
		for _, i := range []int{lockTaskRead, lockResultWrite} {
			l := p.reg.Lock(i)
			p.setG(gPoolMgr, "stopping a worker past its task's timeout", &waitSpec{
				kind: WaitLock, what: "the " + lockNames[i], lock: lockNames[i], holder: l.Holder,
				releasers: func() []string {
					var ids []string
					if p.lockTimeout > 0 {
						ids = append(ids, Clock)
					}
					if h := l.Holder(); h != 0 {
						ids = append(ids, holderID(h))
					}
					return ids
				},
				ready: func() bool { h := l.Holder(); return h == 0 || h == int(me) },
			})
			if !p.acquireParent(l, me) {
				if p.stopped() {
					return ""
				}
				return "BrokenProcessPool from WorkerManager.stop_worker: ChannelError: Channel mutex time out"
			}
		}
		p.mu.Lock()
		delete(p.workers, pr.PID)
		p.mu.Unlock()
		pr.Kill()
		p.reap(pr)
		p.reg.Lock(lockResultWrite).Release()
		p.reg.Lock(lockTaskRead).Release()
	}
	p.mu.Lock()
	p.taskDoneLocked(job, Result{Err: &DeadlineError{PID: t.worker, Timeout: p.opts.TaskTimeout}})
	p.mu.Unlock()
	return ""
}

// acquireParent takes l for the parent within the lock timeout (for
// ever if it is 0), giving up at once when the pool is stopped, so that
// Terminate ends a pool manager stuck behind a dead holder.
func (p *pebblePool) acquireParent(l shm.Lock, me uint32) bool {
	end := time.Now().Add(p.lockTimeout)
	return l.AcquireParent(me, func() bool { return p.stopped() || (p.lockTimeout > 0 && time.Now().After(end)) })
}

// What handle_worker_expiration does with a dead worker.
type expiry int

const (
	// expiryRetired: exit code 0. inspect_workers returns only workers
	// with `w.exitcode != 0`: the worker is dropped and replaced, and no
	// task fails, so a task it held is never answered.
	expiryRetired expiry = iota
	// expiryTask: the task it acknowledged gets ProcessExpired.
	expiryTask
	// expiryLost: other tasks run, none acknowledged by it:
	// task_worker_lookup raises LookupError, which is swallowed.
	expiryLost
	// expiryAll: no task is running at all: find_expired_task raises
	// BrokenProcessPool("All workers expired").
	expiryAll
)

// planExpiry follows inspect_workers' filter and find_expired_task for a
// worker pid that ended with x, given the running tasks (acknowledged,
// not done: job -> worker pid). It returns the job to fail, for
// expiryTask.
func planExpiry(x Exit, pid int, running map[int]int) (expiry, int) {
	if x.Signal == 0 && x.Code == 0 {
		return expiryRetired, -1
	}
	if len(running) == 0 {
		return expiryAll, -1
	}
	jobs := make([]int, 0, len(running))
	for job := range running {
		jobs = append(jobs, job)
	}
	sort.Ints(jobs)
	for _, job := range jobs {
		if running[job] == pid {
			return expiryTask, job
		}
	}
	return expiryLost, -1
}
