package pools

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Tracked is the design we recommend: private pipes per worker, jobs
// assigned by the parent, a death fails exactly the job it held.
const Tracked Strategy = "tracked"

func init() {
	Define(Definition{
		Name: Tracked, Order: 4,
		Models:    "private pipes per worker, jobs assigned by the parent, a death fails exactly the job it held",
		Follows:   "poolhang's own design",
		Functions: []string{"(none: billiard's and pebble's per-worker job tracking are the nearest peers)"},
		Worker:    WorkerMode{CatchAll: true, SendEncodeError: true, GuardDecode: true},
		Options:   []Option{OptionRetries, OptionRestartBudget, OptionTaskTimeout},
		Start:     startAs(func(o Options) (*tracked, error) { return startTrackedAs(Tracked, o) }),
	})
}

// tracked is the design we recommend. Every worker has a private task
// pipe and result pipe and no lock is shared, so no death can poison
// another worker. The parent assigns jobs to workers and knows at every
// moment which jobs each worker holds, in order. The parent keeps only its
// own ends of the pipes, so a worker's death reaches its reader as end of
// file.
type tracked struct {
	managed

	// Under core.mu.
	queue    []queued // submitted, not assigned
	ws       []*tworker
	restarts int

	budget int
}

// depth bounds the jobs queued in one worker's pipe. A worker takes one
// frame at a time and answers in order, so however deep the queue, at
// most one of its jobs is taken and unanswered.
const depth = 64

// assigned is a job written (or being written) to a worker's pipe.
type assigned struct {
	q          queued
	start, end int64 // the worker's task counter before and after its frame
	written    bool
}

// tworker is the supervisor's record of one worker.
type tworker struct {
	pr     *proc
	task   *pipe
	res    *pipe
	reader *frameReader
	wmu    sync.Mutex // serialises writes to the task pipe

	// Under core.mu.
	fifo    []*assigned // assigned, unanswered, in order
	since   time.Time   // when the head job became the head
	killed  error       // why the supervisor killed it, if it did
	retire  bool        // its stream went bad: no more jobs, end it when drained
	read    bool        // its reader has returned
	readErr error       // why, if not end of file
	done    bool        // its death has been handled
}

const gSupervisor = "supervisor"

func readerID(pid int) string { return fmt.Sprintf("reader %d", pid) }

// startTrackedAs starts a pool of the tracked design under the name s (a
// variant registers its own name, so its workers find its definition).
func startTrackedAs(s Strategy, o Options) (*tracked, error) {
	c, err := newCore(s, o)
	if err != nil {
		return nil, err
	}
	p := &tracked{managed: newManaged(c, gSupervisor)}
	p.budget = o.RestartBudget
	if p.budget <= 0 {
		p.budget = 4*o.Workers + 8
	}
	c.resolverIDs = func() []string {
		ids := []string{gSupervisor}
		for _, tw := range p.ws {
			if !tw.read {
				ids = append(ids, readerID(tw.pr.pid))
			}
		}
		return ids
	}
	c.startG(gSupervisor, RoleSupervisor)
	for i := 0; i < o.Workers; i++ {
		if err := p.startWorker(); err != nil {
			p.Terminate()
			return nil, err
		}
	}
	c.gs.Add(1)
	go p.supervise()
	return p, nil
}

// startWorker starts a worker with private pipes and its reader.
func (p *tracked) startWorker() error {
	tw := &tworker{}
	pr, err := p.spawn(func(s slot) (*pipe, *pipe, error) {
		cnt := s.counters()
		task, err := newPipe("task pipe", false, true, cnt.taskW, cnt.taskR, p.reg.bump)
		if err != nil {
			return nil, nil, err
		}
		res, err := newPipe("result pipe", true, false, cnt.resW, cnt.resR, p.reg.bump)
		if err != nil {
			task.close()
			return nil, nil, err
		}
		tw.task, tw.res = task, res
		return task, res, nil
	})
	if err != nil {
		if tw.task != nil { // the pipes were made, the start failed
			tw.task.close()
			tw.res.close()
		}
		return err
	}
	// Only the worker keeps the task read end and the result write end.
	tw.task.r.Close()
	tw.res.w.Close()
	tw.pr = pr
	tw.reader = newFrameReader(tw.res.r, new(atomic.Int64), new(atomic.Int64), tw.res.read, p.reg.bump)
	p.mu.Lock()
	if p.released || p.stopped() {
		p.mu.Unlock()
		p.kill(pr)
		p.reap(pr)
		tw.task.close()
		tw.res.close()
		return ErrTerminated
	}
	p.addProcLocked(pr)
	p.ws = append(p.ws, tw)
	p.startGLocked(readerID(pr.pid), RoleReader)
	p.mu.Unlock()
	p.gs.Add(1)
	go p.readLoop(tw)
	return nil
}

func (p *tracked) Snapshot() Snapshot {
	r := roles{
		taskWriters:   func(pid int) []string { return []string{gSupervisor, readerID(pid)} },
		resultReaders: func(pid int) []string { return []string{readerID(pid)} },
	}
	if p.opts.TaskTimeout > 0 {
		r.deadline = gSupervisor
	}
	return p.snapshot(r)
}

func (p *tracked) Submit(ctx context.Context, t Task) (*Future, error) {
	return p.submit(ctx, t, func(q queued) { p.queue = append(p.queue, q) })
}

func (p *tracked) Map(ctx context.Context, ts []Task) ([]Result, error) {
	return p.mapWait(ctx, ts, p.Submit)
}

func (p *tracked) Terminate() error {
	return p.terminate(func() {
		p.mu.Lock()
		p.queue = nil
		ws := p.ws
		p.mu.Unlock()
		p.stopManager()
		p.killAll()
		for _, tw := range ws {
			tw.task.close()
			tw.res.close()
		}
	})
}

// readLoop reads one worker's results, in order, and tops up the worker's
// queue itself, keeping the supervisor off the hot path. A result it
// cannot allocate or decode fails that job alone: the reader skips the
// rest of the frame, stays in step, and the worker is retired.
func (p *tracked) readLoop(tw *tworker) {
	defer p.gs.Done()
	id := readerID(tw.pr.pid)
	wait := &waitSpec{
		kind:      WaitResultPipe,
		what:      fmt.Sprintf("a result from worker %d", tw.pr.pid),
		releasers: func() []string { return []string{workerID(tw.pr.pid)} },
		// Its worker is the only writer: once it is dead, end of file
		// is on its way.
		ready: func() bool {
			_, dead, _ := tw.pr.exit()
			return dead || tw.res.readReady(tw.reader.have, tw.reader.need)
		},
		detail: func() string { return frameDetail(tw.reader) },
		torn:   func() bool { h, _ := tw.reader.progress(); return h > 0 },
	}
	for {
		p.setG(id, "reading the result pipe of worker "+fmt.Sprint(tw.pr.pid), wait)
		var res Result
		f, err := tw.reader.next(func(job int, t trig) error {
			if t.id == 0 {
				return nil
			}
			return fire([]trig{t}, PointResultAlloc, job, false, nil)
		})
		if err != nil && f.job >= 0 && tw.reader.need.Load() > 0 && !isEOFOrIO(err) {
			// The header is in: skip the body and fail this job alone.
			res.Err = &ReadError{Job: f.job, Err: err}
			err = tw.reader.discard()
		} else if err == nil {
			var r wireResult
			if r, err = decodeResult(f.job, f.body); err == nil {
				res = Result{Value: r.value, Err: r.err()}
			} else {
				res.Err, err = &ReadError{Job: f.job, Err: err}, nil
			}
		}
		p.mu.Lock()
		if err != nil {
			// End of file (even inside a frame) means the worker died:
			// its death, not the stream, is what its jobs hear of. Any
			// other error leaves the stream unusable.
			tw.read = true
			if !isEOFOrIO(err) {
				tw.readErr = err
			}
			p.endGLockedDone(id, "stopped: "+errString(err))
			p.mu.Unlock()
			notify(p.wake)
			return
		}
		if len(tw.fifo) > 0 && tw.fifo[0].q.job == f.job {
			tw.fifo = tw.fifo[1:]
			tw.since = time.Now()
		}
		p.resolveLocked(f.job, res)
		if res.Err != nil && errors.As(res.Err, new(*ReadError)) {
			tw.retire = true
		}
		wake := tw.retire || ((p.closing || p.broken != nil) && len(tw.fifo) == 0)
		p.mu.Unlock()
		p.fill(tw)
		if wake {
			notify(p.wake)
		}
	}
}

func errString(err error) string {
	if errors.Is(err, ErrTornFrame) || !isEOFOrIO(err) {
		return err.Error()
	}
	return "end of file"
}

// fill tops up tw's queue from the pool's (beyond one job only while no
// other worker is idle), encoding each task and writing it to the
// worker's private pipe. It writes a frame only if the pipe has
// room for it or the worker has nothing else queued, so a writer never
// blocks behind a worker busy with something else. A task that fails to
// encode gets its error.
func (p *tracked) fill(tw *tworker) {
	tw.wmu.Lock()
	defer tw.wmu.Unlock()
	for {
		p.mu.Lock()
		if !p.eligibleLocked(tw) || len(p.queue) == 0 || len(tw.fifo) >= depth || (len(tw.fifo) > 0 && p.idleOtherLocked(tw)) {
			p.mu.Unlock()
			return
		}
		a := &assigned{q: p.queue[0]}
		p.queue = p.queue[1:]
		if len(tw.fifo) == 0 {
			tw.since = time.Now()
		}
		tw.fifo = append(tw.fifo, a)
		p.reg.bump()
		p.mu.Unlock()

		b, err := encodeTask(a.q.job, a.q.t)
		p.mu.Lock()
		if err != nil {
			tw.unassignLocked(a)
			p.resolveLocked(a.q.job, Result{Err: &EncodeError{What: "task", Err: err}})
			p.mu.Unlock()
			continue
		}
		inPipe := tw.task.written.Load() - tw.task.read.Load()
		if len(tw.fifo) > 1 && int64(len(b)) > int64(tw.task.capacity())-inPipe {
			// No room: give it back, whole, for later.
			tw.unassignLocked(a)
			p.queue = append([]queued{a.q}, p.queue...)
			p.mu.Unlock()
			return
		}
		a.start = tw.task.written.Load()
		a.end = a.start + int64(len(b))
		a.written = true
		p.mu.Unlock()
		if err := tw.task.send(b); err != nil {
			return // the worker died: the supervisor sees to its jobs
		}
	}
}

// idleOtherLocked reports whether another worker that may get jobs has
// none: idle workers get jobs before any queue grows past one, so a long
// task does not hold up jobs that an idle worker could run.
func (p *tracked) idleOtherLocked(tw *tworker) bool {
	for _, o := range p.ws {
		if o != tw && len(o.fifo) == 0 && p.eligibleLocked(o) {
			return true
		}
	}
	return false
}

func (tw *tworker) unassignLocked(a *assigned) {
	for i, x := range tw.fifo {
		if x == a {
			tw.fifo = append(tw.fifo[:i], tw.fifo[i+1:]...)
			return
		}
	}
}

// eligibleLocked reports whether tw may get more jobs.
func (p *tracked) eligibleLocked(tw *tworker) bool {
	return tw.killed == nil && !tw.retire && !tw.read && !tw.done && !tw.pr.isDead() && p.broken == nil
}

// supervise handles what the readers do not: deaths, deadlines, bad
// streams, replacements, idle workers and shutdown.
func (p *tracked) supervise() {
	defer p.gs.Done()
	defer close(p.managerDone)
	wait := &waitSpec{
		kind: WaitEvents,
		what: "a death, a deadline, a submit or a closed stream",
		releasers: func() []string {
			ids := append(p.liveWorkerIDsLocked(), gCaller)
			for _, tw := range p.ws {
				if !tw.read {
					ids = append(ids, readerID(tw.pr.pid))
				}
			}
			if !p.nextDeadlineLocked().IsZero() {
				ids = append(ids, Clock)
			}
			return ids
		},
		ready: p.factsLocked,
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		p.mu.Lock()
		var reap, fills []*tworker
		var sends []func()
		replace := 0
		for _, tw := range p.ws {
			if tw.done {
				continue
			}
			_, dead, _ := tw.pr.exit()
			switch {
			case dead && tw.read:
				p.handleDeathLocked(tw)
				reap = append(reap, tw)
				// Replace it while the pool runs, or while work remains
				// after Close.
				if p.broken == nil && (!p.closing || len(p.queue) > 0) {
					replace++
				}
			case tw.killed != nil:
				// Killed: wait for its death.
			case tw.readErr != nil:
				// A stream out of step cannot be trusted: end the worker.
				tw.killed = &ReadError{Job: -1, Err: tw.readErr}
				p.kill(tw.pr)
			case tw.retire && len(tw.fifo) == 0:
				tw.killed = errRetired
				p.kill(tw.pr)
			case len(tw.fifo) > 0 && p.opts.TaskTimeout > 0 && time.Since(tw.since) >= p.opts.TaskTimeout:
				tw.killed = &DeadlineError{PID: tw.pr.pid, Timeout: p.opts.TaskTimeout}
				p.kill(tw.pr)
			case len(tw.fifo) == 0 && !dead && len(p.queue) > 0 && p.eligibleLocked(tw):
				fills = append(fills, tw)
			}
		}
		if replace > 0 && p.restarts+replace > p.budget {
			p.breakLocked(fmt.Errorf("%w: %d replacements allowed, a crash loop needs more", ErrRestartBudget, p.budget))
			replace = 0
		}
		p.restarts += replace
		finished := p.shutdownLocked(&sends)
		busy := len(reap) > 0 || len(fills) > 0 || len(sends) > 0 || replace > 0
		if !busy && !finished {
			p.setGLocked(gSupervisor, "waiting for a death, a deadline, a submit or a closed stream", wait)
		} else {
			p.setGLocked(gSupervisor, "handling deaths and assignments", nil)
		}
		next := p.nextDeadlineLocked()
		p.mu.Unlock()

		for _, tw := range reap {
			p.reap(tw.pr)
			tw.task.close()
			tw.res.close()
		}
		for _, tw := range fills {
			p.fill(tw)
		}
		for _, s := range sends {
			s()
		}
		for i := 0; i < replace; i++ {
			if err := p.startWorker(); err != nil {
				break
			}
		}
		if finished {
			p.doneG(gSupervisor, "finished")
			return
		}
		if busy {
			continue
		}
		var tc <-chan time.Time
		if !next.IsZero() {
			if timer == nil {
				timer = time.NewTimer(time.Until(next))
			} else {
				timer.Reset(time.Until(next))
			}
			tc = timer.C
		}
		select {
		case <-p.stop:
			p.doneG(gSupervisor, "stopped by terminate")
			return
		case <-p.wake:
		case <-p.died:
		case <-tc:
		}
	}
}

// handleDeathLocked settles the jobs a dead worker held, in order. Its
// reader has read everything it wrote, so they are all unanswered. The one
// it had taken off its pipe fails with WorkerLost (or the supervisor's
// reason for killing it), or runs again if it is idempotent and retries
// remain; the ones it never started reading go back to the queue.
func (p *tracked) handleDeathLocked(tw *tworker) {
	tw.done = true
	p.dropGLocked(readerID(tw.pr.pid))
	fifo := tw.fifo
	tw.fifo = nil
	taken := tw.task.read.Load()
	var back []queued
	for _, a := range fifo {
		if _, pending := p.cache[a.q.job]; !pending {
			continue
		}
		if !a.written || taken <= a.start {
			back = append(back, a.q) // never started reading it
			continue
		}
		q := a.q
		q.attempts++
		st, _, _ := tw.pr.exit()
		switch {
		case tw.killed != nil && !errors.Is(tw.killed, errRetired):
			p.resolveLocked(q.job, Result{Err: tw.killed})
		case q.idempotent && q.attempts <= p.opts.Retries:
			back = append(back, q)
		default:
			phase := tw.pr.last.phase()
			if tw.pr.lastJob != int64(q.job) {
				phase = "task-decode" // taken off the pipe, not yet decoding
			}
			p.resolveLocked(q.job, Result{Err: &WorkerLost{PID: tw.pr.pid, Status: st, Phase: phase, Attempts: q.attempts}})
		}
	}
	p.queue = append(back, p.queue...)
}

var errRetired = errors.New("retired after a bad result frame")

// shutdownLocked, once the pool is ending and nothing is left to run,
// tells every idle worker to exit, and reports when every worker has been
// handled.
func (p *tracked) shutdownLocked(sends *[]func()) bool {
	if !p.closing && p.broken == nil {
		return false
	}
	if len(p.queue) > 0 && p.broken == nil {
		return false
	}
	all := true
	for _, tw := range p.ws {
		if tw.done {
			continue
		}
		all = false
		if len(tw.fifo) == 0 && !tw.pr.isDead() && tw.killed == nil {
			tw.killed = errors.New("exit requested")
			*sends = append(*sends, func() {
				tw.wmu.Lock()
				tw.task.send(appendFrame(nil, jobSentinel, trig{}, nil))
				tw.wmu.Unlock()
			})
		}
	}
	return all
}

// breakLocked fails the pool fast: every pending job and every later
// submit get err, every worker is killed.
func (p *tracked) breakLocked(err error) {
	p.broken = err
	p.queue = nil
	p.failAllLocked(err)
	for _, tw := range p.ws {
		if !tw.done {
			if tw.killed == nil {
				tw.killed = err
			}
			p.kill(tw.pr)
		}
	}
}

func (p *tracked) nextDeadlineLocked() time.Time {
	var next time.Time
	if p.opts.TaskTimeout <= 0 {
		return next
	}
	for _, tw := range p.ws {
		if len(tw.fifo) > 0 && tw.killed == nil && !tw.done {
			d := tw.since.Add(p.opts.TaskTimeout)
			if next.IsZero() || d.Before(next) {
				next = d
			}
		}
	}
	return next
}

// factsLocked reports whether something waits for the supervisor: it
// mirrors every decision of supervise, so a snapshot never takes a
// supervisor with work to do for a stuck one.
func (p *tracked) factsLocked() bool {
	ending := p.closing || p.broken != nil
	all := true
	for _, tw := range p.ws {
		if tw.done {
			continue
		}
		all = false
		_, dead, _ := tw.pr.exit()
		switch {
		case tw.killed != nil:
			return true // the kill is sent; the death will come
		case dead && tw.read:
			return true
		case tw.readErr != nil, tw.retire && len(tw.fifo) == 0:
			return true
		case len(tw.fifo) == 0 && !dead && len(p.queue) > 0 && p.eligibleLocked(tw):
			return true // an idle worker and a queued job
		case len(tw.fifo) == 0 && !dead && ending && len(p.queue) == 0:
			return true // an idle worker to tell to exit
		}
	}
	return ending && all
}
