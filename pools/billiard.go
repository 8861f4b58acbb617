package pools

import (
	"strconv"
	"strings"
	"time"

	"github.com/poolhang/poolhang/pools/internal/shm"
	"golang.org/x/sys/unix"
)

// Billiard follows Celery's billiard.Pool (billiard 4.1, billiard/pool.py):
// CPython's Pool with shared queues and a worker handler, plus an
// acknowledgement each worker sends when it takes a job, before it runs
// it; a job acknowledged by a worker that died fails with WorkerLost, but
// only after a grace period, in case its result is still in the pipe.
const Billiard Strategy = "billiard"

// DefaultLostWorkerTimeout is billiard's LOST_WORKER_TIMEOUT.
const DefaultLostWorkerTimeout = 10 * time.Second

func init() {
	Define(Definition{
		Name: Billiard, Order: 5,
		Models:  "billiard.Pool (Celery's prefork pool): multiprocessing.Pool's shared queues and worker handler, plus a worker acknowledgement before each job runs; a dead worker's acknowledged jobs fail with WorkerLostError after a grace period",
		Follows: "billiard 4.1 billiard.Pool",
		Functions: []string{"Worker.workloop", "Worker._make_protected_receive", "Worker.__call__", "TaskHandler.body",
			"ResultHandler._make_methods (on_ack, on_ready)", "ResultHandler.body", "ResultHandler.finish_at_shutdown",
			"Supervisor.body", "Pool._maintain_pool", "Pool._join_exited_workers", "Pool.on_job_process_lost",
			"Pool.mark_as_worker_lost", "Pool._repopulate_pool", "Pool.close", "ApplyResult._ack", "ApplyResult._set",
			"MapResult._ack", "MapResult._set", "MapResult.worker_pids", "PoolThread.run"},
		SharedQueues: true,
		// Worker.workloop catches Exception around the call (SystemExit
		// escapes), wraps a result that fails to pickle in
		// MaybeEncodingError, and unpickles the task outside the read
		// lock (SimpleQueue.get_payload, then loads).
		Worker: WorkerMode{SendEncodeError: true, Ack: true, RetireExit: exRecycle},
		// On Python 3, ApplyResult.wait and MapResult.wait are
		// threading.Event.wait: a Ctrl-C interrupts them.
		InterruptibleWaits: true,
		Options:            []Option{OptionChunkSize, OptionLostWorkerTimeout, OptionInitializer, OptionMaxTasks},
		Start:              startAs(func(o Options) (*queuePool, error) { return startQueue(Billiard, o) }),
	})
}

// billiardState is what billiard.Pool adds to CPython's: its job ids,
// and the lost-worker marks of its ApplyResults and MapResults.
type billiardState struct {
	grace time.Duration
	// calls counts the calls (apply_async, map_async): a call's index is
	// its billiard job id (job_counter), its key in the cache.
	calls int
	// lost marks the calls whose acknowledging worker is gone, by index
	// (job._worker_lost = (monotonic(), exitcode)).
	lost map[int]lostMark
}

type lostMark struct {
	at   time.Time
	pr   *proc
	exit Exit
	jobs []*Future
}

func newBilliardState(o Options) *billiardState {
	g := o.LostWorkerTimeout
	if g == 0 {
		g = DefaultLostWorkerTimeout
	}
	return &billiardState{grace: g, lost: map[int]lostMark{}}
}

// billiardTaskKey is billiard's TASK message type. TaskHandler.body, on an
// error putting a task, does `job, ind = task[:2]` on the message
// `(TASK, (job, i, func, args, kwds))`: job is TASK, so the error goes to
// the cache entry whose job id is 2, not to the job that failed.
const billiardTaskKey = 2

// newCallLocked gives the jobs of one call their billiard job id.
func (b *billiardState) newCallLocked(fs ...*Future) {
	for _, f := range fs {
		f.call = b.calls
	}
	b.calls++
}

// newIMapLocked gives every task of an imap one billiard job id: the
// IMapIterator is one cache entry (`cache[self._job] = self`).
func (b *billiardState) newIMapLocked(it *IMapIterator) {
	it.call = b.calls
	b.calls++
}

// jobsOf returns every job of f's call: its map's or its imap's, or f
// alone.
func jobsOf(f *Future) []*Future {
	switch {
	case f.group != nil:
		return f.group.jobs
	case f.it != nil:
		var out []*Future
		for _, c := range f.it.chunks {
			out = append(out, c...)
		}
		return out
	}
	return []*Future{f}
}

// pendingCallsLocked lists the calls still in the cache, by index, each
// with every job of the call (`job for job in cache.values() if not
// job.ready()`).
func (p *queuePool) pendingCallsLocked() map[int][]*Future {
	out := map[int][]*Future{}
	for _, f := range p.cache {
		if _, ok := out[f.call]; !ok {
			out[f.call] = jobsOf(f)
		}
	}
	return out
}

// pending reports whether any job of a call is unanswered.
func pending(fs []*Future) bool {
	for _, f := range fs {
		if !f.isDone() {
			return true
		}
	}
	return false
}

// billiardEncodeErrorLocked follows TaskHandler.body's `except Exception`
// around `put(task)`: the error is set on cache[TASK], the call with
// billiard job id 2, if that is still pending, and is dropped otherwise
// (`except KeyError: pass`). The task itself is never sent.
func (p *queuePool) billiardEncodeErrorLocked(q queued, err error) {
	if fs, ok := p.pendingCallsLocked()[billiardTaskKey]; ok {
		p.failCallLocked(fs, &EncodeError{What: "task", Err: err})
	}
	p.dropLocked(q.job, "was never sent: encoding its task failed, and the task handler set the error on cache[TASK] (billiard job id 2), not on this job")
}

// billiardInputError follows TaskHandler.body when an imap's task
// generator raises (billiard's generator is bare, as 2.6's): the outer
// `except Exception` does `job, ind = task[:2] if task else (0, 0)` on
// the last message the generator produced, `(TASK, (job, i, ...))`, so
// job is TASK (billiard job id 2) and ind that tuple; `if job in cache:
// cache[job]._set(ind + 1, ...)` then raises TypeError (a tuple plus 1)
// out of the handler, and PoolThread.run calls os._exit(1); otherwise
// `set_length(i + 1)` ends the iteration after the tasks produced, and
// the input's exception is dropped. With no task produced yet, job is 0
// and the error is set on cache[0] at index 1: an ApplyResult or a
// MapResult fails with it (the imap itself has no job in the cache yet,
// and its _set(1, ...) would file the error under an index it never
// reaches). It reports false if the thread ended.
func (p *queuePool) billiardInputError(g *imapFeed, raised error) bool {
	p.mu.Lock()
	key := billiardTaskKey
	if len(g.it.chunks) == 0 {
		key = 0
	}
	fs, pending := p.pendingCallsLocked()[key]
	if pending && key == billiardTaskKey {
		p.mu.Unlock()
		p.dieG(gTask, "died of a TypeError setting the imap input's error on cache[TASK] (`ind + 1` on a message tuple): billiard's PoolThread.run calls os._exit(1), ending the parent")
		return false
	}
	if pending {
		p.failCallLocked(fs, &InputError{Job: 1, Err: raised})
	}
	g.it.setLengthLocked(len(g.it.chunks))
	p.mu.Unlock()
	return true
}

// dropLocked records that the task or result starting at job is lost
// for good, for every job of its chunk still pending.
func (p *queuePool) dropLocked(job int, how string) {
	f, ok := p.cache[job]
	if !ok {
		return
	}
	chunk := []*Future{f}
	if f.group != nil {
		chunk = f.group.chunkOf(job)
	}
	for _, c := range chunk {
		p.dropped[c.job] = how
	}
	p.reg.Bump()
}

// failCallLocked is `job._set(i, (False, einfo))`: an ApplyResult takes
// the error; a MapResult becomes ready with it at once (MapResult._set's
// failure branch), every job of the map with it. An imap is failIMapLocked.
func (p *queuePool) failCallLocked(fs []*Future, err error) {
	if fs[0].it != nil {
		p.failIMapLocked(fs, err)
		return
	}
	if g := fs[0].group; g != nil && g.err == nil {
		g.err = err
	}
	for _, f := range fs {
		p.resolveLocked(f.job, Result{Err: err})
	}
}

// failIMapLocked is `job._set(None, (False, ExceptionInfo()))` on an
// IMapIterator (mark_as_worker_lost's call; the index is None, no task's):
//   - IMapIterator._set files it under `self._unsorted[None]`, since
//     `self._index == i` never holds for None: next() never sees it, and
//     the lost task's item is never produced;
//   - IMapUnorderedIterator._set appends it as one more item
//     (`self._items.append(obj); self._index += 1`), which next() raises
//     as `Exception(value)`, and the iteration ends once _index reaches
//     the length. The model answers each job a gone worker held with
//     it: billiard adds one such item at each Supervisor pass while the
//     iterator is not ready, which answers them one by one once every
//     other item is in, and the caller's next() names none of them. The
//     pid the error names is only the first gone one of worker_pids,
//     which may be a worker that retired holding nothing
//     (billiard_retire.go), so every gone worker's jobs count.
func (p *queuePool) failIMapLocked(fs []*Future, err error) {
	it := fs[0].it
	wl, lost := err.(*WorkerLost)
	if !it.unordered || !lost {
		p.reg.Bump()
		return
	}
	gone := map[int]bool{wl.PID: true}
	for _, pr := range p.procs {
		if pr.IsDead() {
			gone[pr.PID] = true
		}
	}
	for _, f := range fs {
		if !f.isDone() && gone[f.ackedBy] {
			p.resolveLocked(f.job, Result{Err: err})
		}
	}
}

// ackLocked follows on_ack: ApplyResult._ack and MapResult._ack record the
// acknowledging pid for the job (a map: for each job of the chunk).
func (p *queuePool) ackLocked(body []byte) {
	fields := strings.Fields(string(body))
	if len(fields) != 2 {
		return
	}
	job, err1 := strconv.Atoi(fields[0])
	pid, err2 := strconv.Atoi(fields[1])
	f, ok := p.cache[job]
	if err1 != nil || err2 != nil || !ok {
		return // `except (KeyError, AttributeError): pass`
	}
	chunk := []*Future{f}
	if f.group != nil {
		chunk = f.group.chunkOf(job)
	}
	for _, c := range chunk {
		c.ackedBy = pid
	}
	p.reg.Bump()
	// billiard's Supervisor reaps at most every 0.8 s, by which time its
	// ResultHandler has read every ACK the dead worker wrote; the model's
	// worker handler reaps at once, so an ACK read after the worker was
	// reaped marks its call here, as that later pass would have.
	for _, pr := range p.procs {
		if pr.PID == pid {
			if x, dead, reaped := pr.State(); dead && reaped {
				p.bill.lost[f.call] = lostMark{at: time.Now(), pr: pr, exit: x, jobs: jobsOf(f)}
				notify(p.change)
			}
			break
		}
	}
}

// joinExitedWorkersLocked follows Pool._join_exited_workers once the
// worker handler has reaped the cleaned workers: first every pending call
// marked lost whose grace has passed fails with WorkerLost
// (mark_as_worker_lost); then, if any worker was cleaned, every pending
// call that a worker now gone had acknowledged (`pid in cleaned or pid
// not in all_pids`, over MapResult.worker_pids: every chunk of a map,
// answered or not) is marked lost now (on_job_process_lost), which
// restarts its grace. A worker that retired after maxtasks is cleaned
// like any other (billiard_retire.go).
func (p *queuePool) joinExitedWorkersLocked(now time.Time, cleaned []*proc) {
	for i, m := range p.bill.lost {
		switch {
		case !pending(m.jobs):
			delete(p.bill.lost, i)
		case now.Sub(m.at) >= p.bill.grace:
			delete(p.bill.lost, i)
			p.failCallLocked(m.jobs, &WorkerLost{PID: m.pr.PID, Status: m.exit, Phase: m.pr.last.phase(), Attempts: 1})
		}
	}
	if len(cleaned) == 0 {
		return
	}
	byPID := map[int]*proc{}
	for _, pr := range p.procs {
		byPID[pr.PID] = pr
	}
	for i, fs := range p.pendingCallsLocked() {
		for _, f := range fs {
			pr := byPID[f.ackedBy]
			if pr == nil || !pr.IsDead() {
				continue
			}
			p.bill.lost[i] = lostMark{at: now, pr: pr, exit: lostExit(pr, cleaned), jobs: fs}
			p.reg.Bump()
			break
		}
	}
}

// nextGraceLocked is when the earliest grace of a pending call ends, or
// zero if none is armed.
func (p *queuePool) nextGraceLocked() time.Time {
	var next time.Time
	if p.bill == nil {
		return next
	}
	for _, m := range p.bill.lost {
		if !pending(m.jobs) {
			continue
		}
		if t := m.at.Add(p.bill.grace); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// handoffBound bounds how long a worker lets a waiting one take the read
// lock first (letWaiterRead).
const handoffBound = time.Second

// letWaiterRead paces a billiard worker coming back for its next task
// like a CPython worker: while another worker already waits on the task
// queue's read lock, it lets that one take it first. Between releasing
// the lock and coming back, billiard's worker unpickles the task, puts
// its ACK, runs the call and puts the result, in Python: far longer than
// a waiting worker takes to wake, so in billiard a waiting worker takes
// the next task (every real run of the standard task-decode cells shows
// the map's second job going to the second worker). The model's Go
// worker is faster than a futex wake, and without this the worker that
// takes job 2 would sometimes be one still starting, which changes
// billiard's answer (MapResult.worker_pids). It waits for a condition,
// never for a time, except for the bound that keeps a waiter that died
// (an idle-lock-waiter fault) from holding it up for good.
func (w *worker) letWaiterRead() {
	lock := w.reg.Lock(lockTaskRead)
	deadline := time.Now().Add(handoffBound)
	for time.Now().Before(deadline) && lock.Holder() == 0 && w.otherWaiter() {
		unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	}
}

// otherWaiter reports whether another live worker waits for the task
// read lock.
func (w *worker) otherWaiter() bool {
	for i := range shm.MaxSlots {
		s := slotOf(w.reg, i)
		pid := s.PID().Load()
		if pid == 0 || pid == w.pid || s.state() != wWaitTaskLock {
			continue
		}
		if unix.Kill(int(pid), 0) == nil {
			return true
		}
	}
	return false
}
