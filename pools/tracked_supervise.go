package pools

import (
	"errors"
	"fmt"
	"time"
)

// supervise handles what the readers do not: deaths, deadlines, bad
// streams, replacements, idle workers and shutdown. It reads the recorded
// state, asks planSupervisor what to do, and applies the plan; a snapshot
// asks the same plan whether the supervisor's wait is ready.
func (p *tracked) supervise() {
	defer p.gs.Done()
	defer close(p.managerDone)
	wait := &waitSpec{
		kind:      WaitEvents,
		what:      "a death, a deadline, a submit or a closed stream",
		releasers: p.supervisorReleasersLocked,
		ready:     func() bool { return p.readyLocked(time.Now()) },
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		p.mu.Lock()
		p.looked = time.Now()
		pl := planSupervisor(p.stateLocked(p.looked))
		if !pl.acts() {
			p.setGLocked(gSupervisor, "waiting for a death, a deadline, a submit or a closed stream", wait)
			next := p.nextDeadlineLocked()
			p.mu.Unlock()
			if !p.sleep(next, &timer) {
				p.doneG(gSupervisor, "stopped by terminate")
				return
			}
			continue
		}
		p.setGLocked(gSupervisor, "handling deaths and assignments", nil)
		rest := p.applyLocked(pl)
		p.mu.Unlock()
		rest()
		if pl.finish {
			p.doneG(gSupervisor, "finished")
			return
		}
	}
}

// supervisorReleasersLocked names who could wake the waiting supervisor.
func (p *tracked) supervisorReleasersLocked() []string {
	ids := append(p.liveWorkerIDsLocked(), gCaller)
	for _, tw := range p.ws {
		if !tw.read {
			ids = append(ids, readerID(tw.pr.PID))
		}
	}
	if !p.nextDeadlineLocked().IsZero() {
		ids = append(ids, Clock)
	}
	return ids
}

// sleep waits for a wake, a death, the next deadline (if any) or
// Terminate, and reports false on Terminate.
func (p *tracked) sleep(next time.Time, timer **time.Timer) bool {
	tc := rearm(timer, next)
	select {
	case <-p.stop:
		return false
	case <-p.wake:
	case <-p.died:
	case <-tc:
	}
	return true
}

// readyLocked reports whether the waiting supervisor's wait is over at
// now: it has something to do, a death it caused is on its way, or its
// timer has fired (it is awake to look again, even if it then finds
// nothing to do). It reads recorded state only: a snapshot calls it from
// any goroutine, and a look must not move a deadline.
func (p *tracked) readyLocked(now time.Time) bool {
	next := p.nextDeadlineLocked()
	return planSupervisor(p.stateLocked(now)).ready() || (!next.IsZero() && !now.Before(next))
}

// headDeadlineLocked is when tw's head job runs past the task deadline,
// and whether its deadline runs (known); if it does not, the time is a
// check-in: one deadline after the job became the head or the
// supervisor last looked, whichever is later, when the supervisor wakes
// to look again, since nothing tells it of the events it waits for.
//
// The deadline runs from the latest sign of the job's progress, each
// recorded, with its time, by the party that sees it: the worker's take
// (it read the job's frame whole; its slot's TakenJob and TakenAt, in
// the clock all processes share), its leaving a point's wait (the
// harness's signal it waited for came and did not end it, a Ctrl-C it
// ignores: the wait was the harness's, not the task's), and the reader's last read of result bytes
// (a large result on a loaded machine is slow, not stuck; one stopped
// mid-write sends no more, and its deadline runs out). So a task that
// never returns is killed one deadline after it was taken, give or take
// the supervisor's wake-up, never before.
//
// It does not run while the job is not yet taken (a job in the pipe
// behind a worker the machine has not run yet is not late), while the
// worker's last take is another job's (it has not stamped this one yet,
// or it has answered it and moved on), or while the worker waits at a
// point for the harness's signal (a kill, a Ctrl-C, delivered there by
// the runner), which has, for its deadline, struck already. A stop or a
// hang at a point is the task's own: the deadline runs through it.
func (p *tracked) headDeadlineLocked(tw *tworker) (d time.Time, known bool) {
	if len(tw.fifo) == 0 {
		return time.Time{}, false
	}
	a, s, to := tw.fifo[0], slotOf(p.reg, tw.pr.idx), p.opts.TaskTimeout
	checkIn := latest(tw.since, p.looked).Add(to)
	// Each word is read after the one that says it is current: the
	// worker writes them in the other order.
	if pt := Point(s.Point().Load()); pt != 0 && pt&(pointStops|pointHangs) == 0 {
		return checkIn, false
	}
	if !a.written || tw.task.read.Load() < a.end || s.TakenJob().Load() != int64(a.q.job) {
		return checkIn, false
	}
	from := latest(p.shared(s.TakenAt().Load()), p.shared(s.PointLeftAt().Load()), p.epoch.Add(time.Duration(tw.heardAt.Load())))
	return from.Add(to), true
}

// shared is the time of this process's clock at which the shared clock
// (shm.Now) read mono.
func (p *tracked) shared(mono int64) time.Time {
	return p.epoch.Add(time.Duration(mono - p.epochMono))
}

func latest(t time.Time, ts ...time.Time) time.Time {
	for _, u := range ts {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// stateLocked is what the supervisor decides from: the recorded state at
// now. It writes nothing, so a snapshot may call it from any goroutine.
func (p *tracked) stateLocked(now time.Time) supervisorState {
	st := supervisorState{
		queued: len(p.queue), closing: p.closing, broken: p.broken != nil, retries: p.opts.Retries,
		restarts: p.restarts, budget: p.budget, owed: p.owed, workers: make([]workerView, len(p.ws)),
	}
	for i, tw := range p.ws {
		st.workers[i] = p.viewLocked(tw, now)
	}
	return st
}

// viewLocked is the supervisor's view of tw at time now.
func (p *tracked) viewLocked(tw *tworker, now time.Time) workerView {
	_, dead, _ := tw.pr.State()
	w := workerView{
		done: tw.done, dead: dead, read: tw.read, killed: tw.killed != nil, retired: errors.Is(tw.killed, errRetired),
		badStream: tw.readErr != nil, retire: tw.retire, held: len(tw.fifo),
	}
	if p.opts.TaskTimeout > 0 && !now.IsZero() {
		d, known := p.headDeadlineLocked(tw)
		w.overdue = known && !now.Before(d)
	}
	// The start deadline: a worker that has not reached its first read
	// within startTimeout of its start is stuck there (a lock it
	// inherited held, say); its jobs, never taken, go back to the queue.
	// One told to exit never reads its sentinel either: kill it too.
	if p.opts.TaskTimeout > 0 && !now.IsZero() && !dead && !p.startedLocked(tw) && now.Sub(tw.born) >= p.startTimeout() &&
		(tw.killed == nil || tw.killed == errExitRequested) {
		w.overdue, w.killed = true, false
	}
	w.unheard = w.killed && tw.killed == errExitRequested && !dead && slotOf(p.reg, tw.pr.idx).state() == wStartLock
	if dead && tw.read && !tw.done {
		taken := tw.task.read.Load()
		for _, a := range tw.fifo {
			_, pending := p.cache[a.q.job]
			w.jobs = append(w.jobs, heldJob{pending: pending, taken: a.written && taken > a.start, idempotent: a.q.idempotent, attempts: a.q.attempts})
		}
	}
	return w
}

// applyLocked applies pl: what needs core.mu now, and returns the rest
// (reaping, writing to pipes, starting workers), to run without it.
func (p *tracked) applyLocked(pl supervisorPlan) func() {
	var rest []func()
	for i, fates := range pl.settle {
		tw := p.ws[i]
		p.settleLocked(tw, fates)
		rest = append(rest, func() {
			p.reap(tw.pr)
			tw.task.close()
			tw.res.close()
		})
	}
	p.owed += pl.owe
	switch {
	case pl.overBudget:
		err := fmt.Errorf("%w: %d replacements allowed, a crash loop needs more", ErrRestartBudget, p.budget)
		if p.startErr != nil {
			err = fmt.Errorf("%w: %d replacements allowed, the last failed to start: %w", ErrRestartBudget, p.budget, p.startErr)
		}
		p.breakLocked(err)
		p.owed = 0
	case pl.replace > 0:
		p.restarts += pl.replace
		p.owed = 0
		rest = append(rest, func() { p.replace(pl.replace) })
	}
	for _, k := range pl.kill {
		tw := p.ws[k.w]
		tw.killed = p.killErrLocked(tw, k.why)
		tw.pr.Kill()
	}
	for _, i := range pl.fill {
		rest = append(rest, func() { p.fill(p.ws[i]) })
	}
	for _, i := range pl.exit {
		tw := p.ws[i]
		tw.killed = errExitRequested
		rest = append(rest, func() {
			tw.wmu.Lock()
			tw.task.send(sentinel())
			tw.wmu.Unlock()
		})
	}
	return func() {
		for _, f := range rest {
			f()
		}
	}
}

// replace starts n replacements, counted in restarts already. One that
// fails to start has used its restart all the same, and it and those not
// tried are owed again: the supervisor tries again within the budget, and
// a pool whose workers cannot start breaks once it is spent, rather than
// wait for ever for a worker to take its queued jobs.
func (p *tracked) replace(n int) {
	for i := range n {
		err := p.startWorker()
		switch {
		case err == nil:
			continue
		case errors.Is(err, ErrTerminated):
			return
		}
		p.mu.Lock()
		p.restarts -= n - i - 1 // not tried
		p.owed += n - i
		p.startErr = err
		p.mu.Unlock()
		return
	}
}

// killErrLocked is what the jobs of a worker killed for why will hear.
func (p *tracked) killErrLocked(tw *tworker, why killReason) error {
	switch why {
	case killBadStream:
		// A stream out of step cannot be trusted: end the worker.
		return &ReadError{Job: -1, Err: tw.readErr}
	case killRetired:
		return errRetired
	default:
		return &DeadlineError{PID: tw.pr.PID, Timeout: p.opts.TaskTimeout}
	}
}

// settleLocked settles the jobs a dead worker held, in order, as settle
// decided: back to the queue, or failed with the supervisor's reason for
// killing it or with WorkerLost.
func (p *tracked) settleLocked(tw *tworker, fates []fate) {
	tw.done = true
	p.dropGLocked(readerID(tw.pr.PID))
	var back []queued
	for i, a := range tw.fifo {
		q := a.q
		switch fates[i] {
		case fateRequeue:
			back = append(back, q)
		case fateRetry:
			q.attempts++
			back = append(back, q)
		case fateKilled:
			p.resolveLocked(q.job, Result{Err: tw.killed})
		case fateLost:
			q.attempts++
			st, _, _ := tw.pr.State()
			phase := tw.pr.last.phase()
			if tw.pr.lastJob != int64(q.job) {
				phase = "task-decode" // taken off the pipe, not yet decoding
			}
			p.resolveLocked(q.job, Result{Err: &WorkerLost{PID: tw.pr.PID, Status: st, Phase: phase, Attempts: q.attempts}})
		}
	}
	tw.fifo = nil
	p.queue = append(back, p.queue...)
}

var errRetired = errors.New("retired after a bad result frame")

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
			tw.pr.Kill()
		}
	}
}

// nextDeadlineLocked is when the supervisor must look next: the
// earliest head job's deadline or check-in (headDeadlineLocked), or a
// worker's start deadline; zero if there is none. readyLocked reads the
// same time, so a snapshot's readiness and the supervisor's wake agree.
func (p *tracked) nextDeadlineLocked() time.Time {
	var next time.Time
	if p.opts.TaskTimeout <= 0 {
		return next
	}
	earliest := func(d time.Time) {
		if next.IsZero() || d.Before(next) {
			next = d
		}
	}
	for _, tw := range p.ws {
		if (tw.killed != nil && tw.killed != errExitRequested) || tw.done {
			continue
		}
		// One told to exit (killed, errExitRequested): only its start
		// deadline counts.
		if tw.killed == nil && len(tw.fifo) > 0 {
			d, _ := p.headDeadlineLocked(tw)
			earliest(d)
		}
		if !p.startedLocked(tw) {
			earliest(tw.born.Add(p.startTimeout()))
		}
	}
	return next
}

// startTimeout is how long a worker may take to reach its first read:
// the task deadline, but at least minStartTimeout, so that a worker slow
// to start on a loaded machine (an exec, the runtime's start) is not
// taken for a stuck one.
func (p *tracked) startTimeout() time.Duration { return max(p.opts.TaskTimeout, minStartTimeout) }

const minStartTimeout = 2 * time.Second

// errExitRequested marks a worker sent its exit sentinel.
var errExitRequested = errors.New("exit requested")

// startedLocked reports whether tw has got past its start: its slot says
// it reached its loop (a worker blocked at start says so too).
func (p *tracked) startedLocked(tw *tworker) bool {
	st := slotOf(p.reg, tw.pr.idx).state()
	return st != wStarting && st != wStartLock
}
