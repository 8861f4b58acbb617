package pools

// supervisorState is what tracked's supervisor decides from, read under
// core.mu: the pool's counters and one view per worker, in p.ws order.
type supervisorState struct {
	queued   int // submitted, not assigned
	closing  bool
	broken   bool
	retries  int // Options.Retries
	restarts int // replacements started so far
	budget   int // replacements allowed
	// owed is how many replacements settled deaths are owed and not
	// started yet: a death is settled before the pool decides whether to
	// replace it, so the two are recorded apart and no death is replaced
	// twice.
	owed    int
	workers []workerView
}

// workerView is the supervisor's record of one worker, as it decides.
type workerView struct {
	done      bool // its death has been settled
	dead      bool // its process has ended
	read      bool // its reader has returned
	killed    bool // the supervisor killed it or told it to exit
	retired   bool // killed because it was retired: its jobs are lost, not failed with the kill's reason
	badStream bool // its reader returned on an error other than end of file
	retire    bool // a bad result frame: no more jobs, end it once drained
	held      int  // jobs assigned and unanswered
	overdue   bool // its head job has run past the task deadline
	// unheard: told to exit, but blocked at its start (an inherited
	// lock), so it will never read the sentinel: no death is coming.
	unheard bool
	// jobs are the jobs it held, in order; read only once it is dead and
	// its reader has returned, to settle its death.
	jobs []heldJob
}

// eligible reports whether the worker may get more jobs (in a pool that
// is not broken).
func (w workerView) eligible() bool {
	return !w.killed && !w.retire && !w.read && !w.done && !w.dead
}

// heldJob is what settling a death needs to know of one job the worker
// held.
type heldJob struct {
	pending    bool // still unresolved
	taken      bool // the worker had begun reading its frame
	idempotent bool
	attempts   int // runs that ended in a death, before this one
}

// A fate is what settling a death does with one job the worker held.
type fate int

const (
	fateGone    fate = iota // resolved already: nothing
	fateRequeue             // never started: back to the queue as it was
	fateRetry               // lost but idempotent with retries left: back, one attempt more
	fateKilled              // fails with the supervisor's reason for the kill
	fateLost                // fails with WorkerLost
)

// settle decides the fate of each job a dead worker held, in order. A
// worker takes one frame at a time and answers in order, and its reader
// has read all it wrote, so at most one job is taken and unanswered: that
// one fails (with the kill's reason if the supervisor killed the worker,
// else WorkerLost) or runs again; the others were never started and go
// back to the queue.
func settle(jobs []heldJob, killed bool, retries int) []fate {
	out := make([]fate, len(jobs))
	for i, j := range jobs {
		switch {
		case !j.pending:
			out[i] = fateGone
		case !j.taken:
			out[i] = fateRequeue
		case killed:
			out[i] = fateKilled
		case j.idempotent && j.attempts+1 <= retries:
			out[i] = fateRetry
		default:
			out[i] = fateLost
		}
	}
	return out
}

// A killReason is why the supervisor ends a worker.
type killReason int

const (
	killBadStream killReason = iota + 1 // its result stream is out of step
	killRetired                         // retired and drained
	killDeadline                        // its head job is past the deadline
)

// A kill is a worker to end and why.
type kill struct {
	w   int
	why killReason
}

// A supervisorPlan is the supervisor's next step. It is one of: settle
// deaths; replace settled workers, or break the pool if that would
// exceed the budget; or act on each live worker (kill, fill, tell to
// exit) and finish once every worker is settled.
type supervisorPlan struct {
	settle map[int][]fate // worker -> the fates of its jobs
	owe    int            // replacements the deaths settled now are owed

	replace    int  // start this many replacements
	overBudget bool // the replacements owed exceed the budget: break the pool

	kill   []kill
	fill   []int // idle workers to give jobs
	exit   []int // idle workers to tell to exit
	finish bool  // every worker is settled and the pool is ending

	// dying counts workers the supervisor killed whose deaths are on
	// their way: not an act, but the supervisor is not blocked.
	dying int
}

// acts reports whether the plan does anything.
func (pl supervisorPlan) acts() bool {
	return len(pl.settle) > 0 || pl.replace > 0 || pl.overBudget || len(pl.kill) > 0 || len(pl.fill) > 0 || len(pl.exit) > 0 || pl.finish
}

// ready reports whether the supervisor has something to do or a death it
// caused on its way; a snapshot reads it as the supervisor's wait being
// ready.
func (pl supervisorPlan) ready() bool { return pl.acts() || pl.dying > 0 }

// planSupervisor is the supervisor's decision. Deaths come first (a dead
// worker's jobs go back to the queue before anything is assigned), then
// the replacements they are owed, then each live worker; a worker killed
// waits for its death.
func planSupervisor(st supervisorState) supervisorPlan {
	if pl, ok := planDeaths(st); ok {
		return pl
	}
	var pl supervisorPlan
	if st.owed > 0 && !st.broken {
		if st.restarts+st.owed > st.budget {
			pl.overBudget = true
		} else {
			pl.replace = st.owed
		}
		return pl
	}
	ending := st.closing || st.broken
	drained := st.queued == 0 || st.broken
	all := true
	for i, w := range st.workers {
		if w.done {
			continue
		}
		all = false
		why := killReason(0)
		switch {
		case w.killed:
			if !w.unheard {
				pl.dying++
			}
		case w.dead:
			// Dead already, its reader still to return (planDeaths then
			// settles it): a deadline passing meanwhile is not why it
			// ended, and a kill would say it was.
		case w.badStream:
			why = killBadStream
		case w.retire && w.held == 0:
			why = killRetired
		case w.overdue:
			why = killDeadline
		case w.held == 0 && !w.dead && st.queued > 0 && w.eligible() && !st.broken:
			pl.fill = append(pl.fill, i)
		case w.held == 0 && !w.dead && ending && drained:
			pl.exit = append(pl.exit, i)
		}
		if why != 0 {
			pl.kill = append(pl.kill, kill{i, why})
		}
	}
	pl.finish = ending && drained && all
	return pl
}

// planDeaths settles every worker that has died and whose reader has
// returned, in order, and counts the replacements owed: while the pool
// runs, or while work remains after Close (counting the jobs the deaths
// before it put back).
func planDeaths(st supervisorState) (supervisorPlan, bool) {
	var pl supervisorPlan
	queued := st.queued
	for i, w := range st.workers {
		if w.done || !w.dead || !w.read {
			continue
		}
		if pl.settle == nil {
			pl.settle = map[int][]fate{}
		}
		fs := settle(w.jobs, w.killed && !w.retired, st.retries)
		pl.settle[i] = fs
		for _, f := range fs {
			if f == fateRequeue || f == fateRetry {
				queued++
			}
		}
		if !st.broken && (!st.closing || queued > 0) {
			pl.owe++
		}
	}
	return pl, pl.settle != nil
}
