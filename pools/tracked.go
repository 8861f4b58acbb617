package pools

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolhang/poolhang/pools/internal/frame"
	"github.com/poolhang/poolhang/pools/internal/shm"
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
		// A Ctrl-C is the caller's: it returns from its wait at once, and
		// the workers, which ignore SIGINT, lose nothing.
		Worker:             WorkerMode{CatchAll: true, SendEncodeError: true, GuardDecode: true, IgnoreSIGINT: true, StampTakes: true},
		InterruptibleWaits: true,
		Options:            []Option{OptionRetries, OptionRestartBudget, OptionTaskTimeout, OptionInitializer},
		Start:              startAs(func(o Options) (*tracked, error) { return startTrackedAs(Tracked, o) }),
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
	restarts int   // replacements started, or tried and failed
	owed     int   // replacements owed to settled deaths, not started yet
	startErr error // why the last replacement failed to start

	budget int

	// The workers' stamps (shm.Now's clock) become times of this process's
	// clock through one pair of readings, taken when the pool starts:
	// the shared clock's first, so that a stamp maps to its moment or a
	// hair after it, and a deadline is never early.
	epoch     time.Time
	epochMono int64
	looked    time.Time // the supervisor's last look; it alone writes it
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
	reader *frame.Reader
	wmu    sync.Mutex // serialises writes to the task pipe

	// Under core.mu.
	fifo    []*assigned // assigned, unanswered, in order
	since   time.Time   // when the head job became the head
	killed  error       // why the supervisor killed it, if it did
	retire  bool        // its stream went bad: no more jobs, end it when drained
	read    bool        // its reader has returned
	readErr error       // why, if not end of file
	done    bool        // its death has been handled
	born    time.Time   // when it was started, for the start deadline

	// When its reader last read result bytes, as time since the pool's
	// epoch; the reader alone writes it.
	heardAt atomic.Int64
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
	p := &tracked{managed: newManaged(c, gSupervisor), epochMono: shm.Now()}
	p.epoch = time.Now()
	p.budget = o.RestartBudget
	c.callbacks = callbacksFailJob // a raising callback fails its job alone
	if p.budget <= 0 {
		p.budget = 4*o.Workers + 8
	}
	c.resolverIDs = func() []string {
		ids := []string{gSupervisor}
		for _, tw := range p.ws {
			if !tw.read {
				ids = append(ids, readerID(tw.pr.PID))
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
		cnt := s.Counters()
		task, err := newPipe("task pipe", false, true, cnt.TaskW, cnt.TaskR, p.reg.Bump)
		if err != nil {
			return nil, nil, err
		}
		res, err := newPipe("result pipe", true, false, cnt.ResW, cnt.ResR, p.reg.Bump)
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
	heard := int64(0) // the reader's own
	tw.reader = frame.NewReader(tw.res.r, new(atomic.Int64), new(atomic.Int64), tw.res.read, func() {
		p.reg.Bump()
		if n := tw.res.read.Load(); n != heard {
			heard = n
			tw.heardAt.Store(int64(time.Since(p.epoch)))
		}
	})
	p.mu.Lock()
	if p.released || p.stopped() {
		p.mu.Unlock()
		pr.Kill()
		p.reap(pr)
		tw.task.close()
		tw.res.close()
		return ErrTerminated
	}
	p.addProcLocked(pr)
	tw.born = time.Now()
	p.ws = append(p.ws, tw)
	p.startGLocked(readerID(pr.PID), RoleReader)
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
	id := readerID(tw.pr.PID)
	wait := &waitSpec{
		kind:      WaitResultPipe,
		what:      fmt.Sprintf("a result from worker %d", tw.pr.PID),
		releasers: func() []string { return []string{workerID(tw.pr.PID)} },
		// Its worker is the only writer: once it is dead, end of file
		// is on its way.
		ready: func() bool {
			_, dead, _ := tw.pr.State()
			return dead || tw.res.readReady(tw.reader.Counters())
		},
		detail: func() string { return frameDetail(tw.reader) },
		torn:   func() bool { h, _ := tw.reader.Progress(); return h > 0 },
	}
	for {
		p.setG(id, "reading the result pipe of worker "+fmt.Sprint(tw.pr.PID), wait)
		job, res, err := readResult(tw.reader)
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
		if len(tw.fifo) > 0 && tw.fifo[0].q.job == job {
			tw.fifo = tw.fifo[1:]
			tw.since = time.Now()
		}
		p.resolveLocked(job, res)
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

// readResult reads one result frame and decodes it. A frame whose body
// cannot be allocated or decoded is that job's ReadError, and the reader
// stays in step (it skips the rest of the body); err is for a stream that
// ended or is out of step.
func readResult(rd *frame.Reader) (job int, res Result, err error) {
	f, err := rd.Next(fireAlloc)
	switch {
	case err != nil && f.Job >= 0 && headerIn(rd) && !isEOFOrIO(err):
		// The header is in: skip the body and fail this job alone.
		return f.Job, Result{Err: &ReadError{Job: f.Job, Err: err}}, rd.Discard()
	case err != nil:
		return f.Job, Result{}, err
	}
	r, err := decodeResult(f.Job, f.Body)
	if err != nil {
		return f.Job, Result{Err: &ReadError{Job: f.Job, Err: err}}, nil
	}
	return f.Job, Result{Value: r.Value, Err: resultErr(r)}, nil
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
		p.reg.Bump()
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
	return p.broken == nil && p.viewLocked(tw, time.Time{}).eligible()
}

// headerIn reports whether rd has read the header of its current frame.
func headerIn(rd *frame.Reader) bool { _, need := rd.Progress(); return need > 0 }
