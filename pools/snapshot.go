package pools

import (
	"fmt"
	"os"
	"sort"
	"strings"

	process "github.com/poolhang/poolhang/pools/internal/proc"
)

// A Snapshot is what every party of a pool was doing at one moment. It
// is taken without stopping anyone: every party records its state before
// it blocks, and Progress counts every transition, so two snapshots with
// the same Progress saw the same states.
type Snapshot struct {
	Strategy Strategy
	// Progress counts state transitions of every party, parent and workers.
	Progress uint32
	// Consistent is false if a transition happened while the snapshot was
	// taken; such a snapshot proves nothing.
	Consistent bool
	// Pending lists the job ids in the cache, not yet resolved.
	Pending []int
	// Abandoned lists jobs answered with their map's first error before
	// their own result came (2.6 marks a map ready at its first failed
	// chunk): a worker that dies holding one leaves nobody waiting.
	Abandoned []int
	// Dropped lists pending jobs the pool itself lost, each with how:
	// billiard's task handler dropping a task it could not send, or its
	// result handler losing a result it could not read. Nothing will
	// answer them.
	Dropped []Dropped
	// Parties: the callers, then the parent's goroutines, then workers.
	Parties []Party
	Locks   []LockState
	Pipes   []PipeState
	// InitFails: the pool's initializer raises in every worker it starts
	// (Options.InitFails), so a worker that has not finished it (Party.Init)
	// will end without taking a task.
	InitFails bool
	// Respawner names the party that replaces dead workers with no bound
	// (respawn's worker handler); "" if none. With InitFails, all it can
	// do is start workers that die in their initializer.
	Respawner string
}

// Dropped is a pending job the pool lost by itself, and how.
type Dropped struct {
	Job int
	How string
}

// Outside is the releaser of a worker stopped at a point to let a signal
// land there: something outside the pool (a harness, the OOM killer).
const Outside = "outside"

// Clock is the releaser of a party that sleeps until a deadline it has
// armed: time will wake it.
const Clock = "clock"

// A Party is a caller, a parent goroutine or a worker process. Role,
// Slot, Stop and Wait.Kind are what a program reads; ID, State, Stopped
// and Wait.For are prose for diagnoses.
type Party struct {
	ID   string // "caller", "result-handler", "worker 4242", ...
	Role Role
	PID  int // workers only
	// Slot is a worker's place in the pool, from 1 in start order (the
	// first workers 1 to Workers, replacements after them), the same
	// from run to run; 0 for other parties.
	Slot   int
	Worker bool
	State  string
	Job    int // the job a worker holds, or -1
	// Stop is the point a worker stopped at (to wait for a signal, or
	// for good in a task that never returns); 0 if none. Stopped names it.
	Stop    Point
	Stopped string
	// Exit is set once a worker process has ended.
	Exit *Exit
	// Zombie: the worker has ended and nobody has reaped it.
	Zombie bool
	// Phase is where a worker is (or was, when it died) with its job:
	// task-decode, task-run, result-encode, result-write.
	Phase string
	// Idle: a live worker waiting for its next task.
	Idle bool
	// Init: a live worker that has not finished starting: it has not
	// run its initializer yet, or is running it.
	Init bool
	// Starting: a live worker that has not yet reached its loop, so its
	// signal handlers may not be installed yet.
	Starting bool
	// Done: a goroutine has returned. Died: it returned because of an
	// uncaught error, as a Python thread dies silently.
	Done  bool
	Died  bool
	Holds []string // lock names a worker holds
	// Wait is what the party is blocked on; nil if it is running, done or
	// dead.
	Wait *Wait
}

// InheritedLock is the Wait.Lock of a worker blocked at its start on a
// lock it inherited held (fork-held-lock).
const InheritedLock = "inherited lock"

// A Wait is what a party is blocked on and who could release it.
type Wait struct {
	Kind WaitKind
	For  string // prose
	// Job is the job waited on (a caller's; a worker's task that never
	// returns), or -1.
	Job int
	// Lock names the lock waited for when Kind is WaitLock; Holder is
	// the pid holding it, 0 if it is free.
	Lock   string
	Holder int
	// Releasers are the parties whose progress could release the wait.
	Releasers []string
	// Ready: what the party waits for is already there (bytes in a pipe, a
	// free lock, a resolved job), so it is not blocked.
	Ready  bool
	Detail string
	// Torn: the waiting reader holds part of a frame and needs the rest.
	Torn bool
}

// LockState is a process-shared lock and the pid holding it (0: free).
type LockState struct {
	Name   string
	Holder int
}

// PipeState is a pipe and the bytes buffered in it.
type PipeState struct {
	Name     string
	Buffered int
	Capacity int
}

// PartyByID returns the party with the given id (a releaser names one).
func (s *Snapshot) PartyByID(id string) (Party, bool) {
	for _, p := range s.Parties {
		if p.ID == id {
			return p, true
		}
	}
	return Party{}, false
}

// Worker returns the worker process with the given pid, live or dead.
func (s *Snapshot) Worker(pid int) (Party, bool) {
	for _, p := range s.Parties {
		if p.Role == RoleWorker && p.PID == pid {
			return p, true
		}
	}
	return Party{}, false
}

// roles names the parties that play a part in workers' waits.
type roles struct {
	taskWriter   string // writes tasks (the task handler, the feeder, ...)
	resultReader string // reads results
	locks        bool
	// lockTimeout: a worker's wait for a lock gives up after a timeout
	// (pebble's LOCK_TIMEOUT), so the clock can end it.
	lockTimeout bool
	pipes       []*pipe
	// deadline names the party that kills a task past its deadline.
	deadline string
	// taskWriters, if set, names a worker's task writers by pid.
	taskWriters   func(pid int) []string
	resultReaders func(pid int) []string
	// respawner names the party that replaces dead workers with no bound.
	respawner string
}

func (c *core) snapshot(r roles) Snapshot {
	for try := 0; ; try++ {
		before := c.reg.Progress().Load()
		s := c.snapshotOnce(r)
		after := c.reg.Progress().Load()
		s.Progress, s.Consistent = before, before == after
		if s.Consistent || try == 8 {
			return s
		}
	}
}

func (c *core) snapshotOnce(r roles) Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Snapshot{Strategy: c.strategy, Pending: c.pendingLocked(), InitFails: c.opts.InitFails, Respawner: r.respawner}
	for j := range c.abandoned {
		s.Abandoned = append(s.Abandoned, j)
	}
	sort.Ints(s.Abandoned)
	for _, j := range c.pendingLocked() {
		if how, ok := c.dropped[j]; ok {
			s.Dropped = append(s.Dropped, Dropped{Job: j, How: how})
		}
	}
	if r.locks {
		for i := range numLocks {
			s.Locks = append(s.Locks, LockState{Name: lockNames[i], Holder: c.reg.Lock(i).Holder()})
		}
	}
	for _, p := range r.pipes {
		s.Pipes = append(s.Pipes, PipeState{Name: p.name, Buffered: p.buffered(), Capacity: p.capacity()})
	}
	for _, w := range c.callers {
		s.Parties = append(s.Parties, Party{ID: w.id, Role: RoleCaller, Job: -1, State: "waiting for " + w.spec.what, Wait: w.spec.eval()})
	}
	if len(c.callers) == 0 {
		// The program using the pool is running, and may submit or close.
		s.Parties = append(s.Parties, Party{ID: gCaller, Role: RoleCaller, Job: -1, State: "not waiting on the pool"})
	}
	for _, name := range c.order {
		g := c.parties[name]
		p := Party{ID: name, Role: g.role, Job: -1, State: g.state, Done: g.done, Died: g.died}
		if g.wait != nil {
			p.Wait = g.wait.eval()
		}
		s.Parties = append(s.Parties, p)
	}
	for _, pr := range c.procs {
		s.Parties = append(s.Parties, c.workerPartyLocked(pr, r))
	}
	return s
}

func (w *waitSpec) eval() *Wait {
	out := &Wait{Kind: w.kind, For: w.what, Job: -1, Lock: w.lock}
	if w.job != nil {
		out.Job = w.job()
	}
	if w.holder != nil {
		out.Holder = w.holder()
	}
	if w.releasers != nil {
		out.Releasers = w.releasers()
	}
	if w.ready != nil {
		out.Ready = w.ready()
	}
	if w.detail != nil {
		out.Detail = w.detail()
	}
	if w.torn != nil {
		out.Torn = w.torn()
	}
	return out
}

func (c *core) workerPartyLocked(pr *proc, r roles) Party {
	id := workerID(pr.PID)
	p := Party{ID: id, Role: RoleWorker, PID: pr.PID, Slot: pr.seq, Worker: true, Job: -1}
	if st, dead, reaped := pr.State(); dead {
		deadWorker(&p, pr, st, reaped)
		return p
	}
	sl := slotOf(c.reg, pr.idx)
	state := sl.state()
	p.State, p.Job, p.Phase = state.String(), int(sl.Job().Load()), state.phase()
	p.Idle = (state == wWaitTaskLock || state == wReadTask) && p.Job < 0
	p.Init = state == wStarting || state == wInit
	p.Starting = state == wStarting || state == wInit
	if r.locks {
		for i := range numLocks {
			if c.reg.Lock(i).Holder() == pr.PID {
				p.Holds = append(p.Holds, lockNames[i])
			}
		}
	}
	if stopped(&p, Point(sl.Point().Load()), r) {
		return p
	}
	switch state {
	case wWaitTaskLock, wWaitResultLock:
		l, ok := sl.waitingLock()
		if !ok {
			break // about to declare which lock (or done with it): still running
		}
		h := c.reg.Lock(l).Holder()
		p.Wait = &Wait{Kind: WaitLock, For: "the " + lockNames[l], Job: -1, Lock: lockNames[l], Holder: h, Ready: h == 0 || h == pr.PID}
		if h != 0 {
			p.Wait.Releasers = []string{holderID(h)}
			p.Wait.Detail = fmt.Sprintf("held by pid %d", h)
		}
		if r.lockTimeout {
			p.Wait.Releasers = append(p.Wait.Releasers, Clock)
		}
	case wReadTask:
		n := pr.task.unread()
		rel := []string{r.taskWriter}
		if r.taskWriters != nil {
			rel = r.taskWriters(pr.PID)
		}
		p.Wait = &Wait{Kind: WaitTaskPipe, Job: -1, For: "a task on the " + pr.task.name, Releasers: rel, Ready: pr.task.readReady(sl.Have(), sl.Need()),
			Detail: fmt.Sprintf("%d bytes buffered", n)}
	case wStartLock:
		// Nobody can release it: its holder is a thread of the parent,
		// and the word is the worker's own copy.
		h := int(sl.StartArg().Load())
		p.Wait = &Wait{Kind: WaitLock, For: "a lock it inherited held at its start", Job: -1, Lock: InheritedLock, Holder: h,
			Detail: fmt.Sprintf("held by thread %d of the parent, which does not exist in the worker; the word is the worker's own copy", h)}
		if r.deadline != "" {
			p.Wait.Releasers = []string{r.deadline} // its start deadline kills it
		}
	case wWriteResult:
		n, capa := pr.res.buffered(), pr.res.capacity()
		rel := []string{r.resultReader}
		if r.resultReaders != nil {
			rel = r.resultReaders(pr.PID)
		}
		p.Wait = &Wait{Kind: WaitPipeRoom, Job: -1, For: "room in the " + pr.res.name, Releasers: rel, Ready: writeReady(pr.PID, n, capa),
			Detail: fmt.Sprintf("%d of %d bytes buffered", n, capa)}
	}
	return p
}

// deadWorker fills in a dead worker's party: how it ended, and the job
// and state it died in.
func deadWorker(p *Party, pr *proc, st Exit, reaped bool) {
	x := st
	p.Exit, p.Zombie, p.Job, p.Phase = &x, !reaped, int(pr.lastJob), pr.last.phase()
	p.State = "exited: " + st.String()
	if err := pr.WatchErr(); err != nil {
		p.State = "ended, as far as waitid says (" + err.Error() + ")"
	}
	if !reaped {
		p.State += " (zombie: not reaped)"
	}
	if pr.last != wStarting && pr.last != wExiting {
		p.State += fmt.Sprintf(", was %s", pr.last)
	}
}

// stopped fills in the wait of a worker stopped at a point, and reports
// whether it is: a task that never returns (released only by a deadline,
// if the pool has one), or a stop that waits for a signal from outside.
func stopped(p *Party, stop Point, r roles) bool {
	switch {
	case stop == 0:
		return false
	case stop&pointStops != 0:
		at := stop &^ (pointStops | pointContinues)
		p.Stop, p.Stopped = at, at.String()
		// Proven from the kernel, not the slot: until /proc says T the
		// worker is still on its way to the stop, so it can move.
		st := process.StateLetter(p.PID)
		nobody := ", and nobody sends SIGCONT"
		if stop&pointContinues != 0 {
			// The runner's SIGCONT comes only once this stop is all that
			// keeps the caller waiting (scenarios: continueStopped).
			nobody = ", until a SIGCONT that comes only once nothing else can move"
		}
		p.Wait = &Wait{Kind: WaitStopped, For: "nothing: stopped by SIGSTOP at " + at.String() + nobody, Job: p.Job,
			Ready: st != 'T', Detail: fmt.Sprintf("state %c, as ps shows it", st)}
		if r.deadline != "" {
			p.Wait.Releasers = []string{r.deadline}
		}
	case stop&pointHangs != 0:
		at := stop &^ pointHangs
		p.Stop, p.Stopped = at, at.String()
		p.Wait = &Wait{Kind: WaitNeverReturns, For: "nothing: the task never returns, stopped at " + at.String(), Job: p.Job}
		if r.deadline != "" {
			p.Wait.Releasers = []string{r.deadline}
		}
	default:
		p.Stop, p.Stopped = stop, stop.String()
		p.Wait = &Wait{Kind: WaitSignal, For: "a signal, stopped at " + stop.String(), Job: -1, Releasers: []string{Outside}}
	}
	return true
}

// holderID names the party holding a lock: a worker, or the parent's task
// handler sending a sentinel on the result queue.
func holderID(pid int) string {
	if pid == os.Getpid() {
		return gTask
	}
	return workerID(pid)
}

// writeReady reports whether a worker writing a pipe that holds n of
// capa bytes can move without a reader. FIONREAD below the capacity does
// not mean the kernel has room: a pipe's buffers are pages, and a frame
// written whole may start a fresh one, so a pipe holding 65505 of 65536
// bytes can be full. The kernel knows: a writer with no room sleeps in
// pipe_write (its wchan), and only a reader wakes it. Where wchan cannot
// be read, the byte count is all there is.
func writeReady(pid, n, capa int) bool {
	if n == 0 {
		return true // every page is free
	}
	main := readTrim(fmt.Sprintf("/proc/%d/wchan", pid))
	if main == "" {
		return n < capa
	}
	return !strings.Contains(wchan(pid, wWriteResult), "pipe_write")
}
