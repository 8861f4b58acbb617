package pools

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// trJob is a job of the abstract tracked pool.
type trJob struct {
	id         int
	idempotent bool
	attempts   int
}

// trWorker is an abstract worker: its queue of assigned jobs (it takes
// the head, runs it, answers, takes the next) and what the supervisor and
// its reader know of it.
type trWorker struct {
	fifo  []trJob
	taken bool // it has taken the head job off its pipe
	dead, read, done,
	killed, retired, badStream, retire, overdue bool
	why      killReason
	exitSent bool
}

func (w *trWorker) eligible() bool {
	return !w.killed && !w.retire && !w.read && !w.done && !w.dead
}

// trModel is an abstract tracked pool driven only by planSupervisor: no
// process runs. The test applies the plans as supervise does and checks,
// after every event, what the design promises.
type trModel struct {
	workers, retries, budget int
	timeout                  bool
	queue                    []trJob
	ws                       []*trWorker
	pending                  map[int]bool
	resolved                 map[int]int
	nextJob                  int
	restarts, owed           int
	// deaths counts the deaths settled before the pool broke: while the
	// pool runs, each is owed a replacement.
	deaths                             int
	closing, broken, finished, stopped bool
}

func (m *trModel) state() supervisorState {
	st := supervisorState{
		queued: len(m.queue), closing: m.closing, broken: m.broken, retries: m.retries,
		restarts: m.restarts, budget: m.budget, owed: m.owed,
	}
	for _, w := range m.ws {
		v := workerView{
			done: w.done, dead: w.dead, read: w.read, killed: w.killed, retired: w.killed && w.why == killRetired,
			badStream: w.badStream, retire: w.retire, held: len(w.fifo), overdue: w.overdue && len(w.fifo) > 0,
		}
		if w.dead && w.read && !w.done {
			for k, j := range w.fifo {
				v.jobs = append(v.jobs, heldJob{pending: m.pending[j.id], taken: k == 0 && w.taken, idempotent: j.idempotent, attempts: j.attempts})
			}
		}
		st.workers = append(st.workers, v)
	}
	return st
}

func (m *trModel) resolve(t *rapid.T, job int) {
	if !m.pending[job] {
		return
	}
	delete(m.pending, job)
	m.resolved[job]++
	if m.resolved[job] > 1 {
		t.Fatalf("job %d resolved twice", job)
	}
}

func (m *trModel) ended() bool { return m.broken || m.finished || m.stopped }

// live counts the workers whose deaths are not settled.
func (m *trModel) live() int {
	n := 0
	for _, w := range m.ws {
		if !w.done {
			n++
		}
	}
	return n
}

// drive runs the supervisor until it waits or finishes.
func (m *trModel) drive(t *rapid.T) {
	for steps := 0; !m.finished && !m.stopped; steps++ {
		if steps > 1000 {
			t.Fatal("the supervisor never waits")
		}
		pl := planSupervisor(m.state())
		if !pl.acts() {
			return
		}
		// Settle in the pool's order: each death's replacement depends on
		// the jobs the deaths before it put back.
		owe := 0
		for i, w := range m.ws {
			if fates, ok := pl.settle[i]; ok && m.settle(t, w, fates) {
				owe++
			}
		}
		if pl.owe != owe {
			t.Fatalf("the deaths settled owe %d replacements, the plan says %d", owe, pl.owe)
		}
		m.owed += pl.owe
		switch {
		case pl.overBudget:
			if m.restarts+m.owed <= m.budget {
				t.Fatalf("broke the pool with %d restarts and %d owed, budget %d", m.restarts, m.owed, m.budget)
			}
			m.broken, m.owed, m.queue = true, 0, nil
			for j := range m.pending {
				m.resolve(t, j)
			}
			for _, w := range m.ws {
				if !w.done && !w.killed {
					w.killed = true
				}
			}
		case pl.replace > 0:
			m.restarts += pl.replace
			for range pl.replace {
				m.ws = append(m.ws, &trWorker{})
			}
			m.owed = 0
		}
		for _, k := range pl.kill {
			w := m.ws[k.w]
			if ok := map[killReason]bool{killBadStream: w.badStream, killRetired: w.retire && len(w.fifo) == 0, killDeadline: w.overdue}[k.why]; !ok {
				t.Fatalf("worker %d killed for reason %d, which does not hold", k.w, k.why)
			}
			w.killed, w.why = true, k.why
		}
		for _, i := range pl.fill {
			if len(m.queue) == 0 {
				break // an earlier fill took them all (tracked.fill then gives up)
			}
			// tracked.fill queues more than one job while no other worker
			// is idle: any number will do here.
			n := rapid.IntRange(1, min(len(m.queue), 3)).Draw(t, "fill")
			m.ws[i].fifo = append(m.ws[i].fifo, m.queue[:n]...)
			m.queue = m.queue[n:]
		}
		for _, i := range pl.exit {
			m.ws[i].killed, m.ws[i].exitSent = true, true
		}
		if pl.finish {
			m.finished = true
		}
		if m.live()+m.owed > m.workers {
			t.Fatalf("%d workers and %d replacements owed, for a pool of %d", m.live(), m.owed, m.workers)
		}
	}
}

// settle applies a settled death and checks it: the job the worker had
// taken fails (or, idempotent with retries left, goes back with one more
// attempt); every other job it held goes back to the queue as it was. It
// reports whether the death is owed a replacement: while the pool runs,
// or while work remains after Close.
func (m *trModel) settle(t *rapid.T, w *trWorker, fates []fate) bool {
	if !w.dead || !w.read || w.done {
		t.Fatal("settled a worker that is not dead with its reader returned")
	}
	if len(fates) != len(w.fifo) {
		t.Fatalf("%d fates for %d jobs", len(fates), len(w.fifo))
	}
	var back []trJob
	for k, j := range w.fifo {
		held := k == 0 && w.taken
		switch f := fates[k]; {
		case !m.pending[j.id]:
			if f != fateGone {
				t.Fatalf("resolved job %d given fate %d", j.id, f)
			}
		case !held:
			if f != fateRequeue {
				t.Fatalf("job %d never started, fate %d, want it requeued", j.id, f)
			}
			back = append(back, j)
		case j.idempotent && j.attempts < m.retries && (!w.killed || w.why == killRetired):
			if f != fateRetry {
				t.Fatalf("idempotent job %d with retries left, fate %d, want a retry", j.id, f)
			}
			j.attempts++
			back = append(back, j)
		default:
			if f != fateKilled && f != fateLost {
				t.Fatalf("job %d held by the dead worker, fate %d, want it failed", j.id, f)
			}
			if (f == fateKilled) != (w.killed && w.why != killRetired) {
				t.Fatalf("job %d: fate %d, killed %v (%d)", j.id, f, w.killed, w.why)
			}
			m.resolve(t, j.id)
		}
	}
	m.queue = append(back, m.queue...)
	w.fifo, w.done = nil, true
	if !m.broken {
		m.deaths++
	}
	return !m.broken && (!m.closing || len(m.queue) > 0)
}

// workerEvent draws a worker not settled yet and something that can
// happen to it now: it takes its next job, answers it (perhaps in a frame
// its reader cannot decode), dies (perhaps in the middle of a job, its
// reader seeing end of file at once or later), exits when told, its
// reader finds its stream out of step, or its job runs past the
// deadline. Drawing only what can happen keeps rapid from rejecting
// steps. It reports false if nothing can happen to any worker.
func (m *trModel) workerEvent(t *rapid.T) bool {
	var ws []*trWorker
	for _, w := range m.ws {
		if !w.done {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 || m.stopped {
		return false
	}
	w := rapid.SampledFrom(ws).Draw(t, "worker")
	var can []string
	if !w.dead {
		can = append(can, "death")
		if len(w.fifo) > 0 && !w.taken {
			can = append(can, "take")
		}
		if w.taken && !w.read {
			can = append(can, "result")
		}
		if w.exitSent && len(w.fifo) == 0 {
			can = append(can, "exit")
		}
		if !w.read {
			can = append(can, "bad stream")
		}
	} else if !w.read {
		can = append(can, "eof")
	}
	if m.timeout && len(w.fifo) > 0 && !w.killed {
		can = append(can, "deadline")
	}
	if len(can) == 0 {
		return false
	}
	switch rapid.SampledFrom(can).Draw(t, "event") {
	case "take":
		w.taken = true
	case "result":
		m.resolve(t, w.fifo[0].id)
		w.fifo, w.taken, w.overdue = w.fifo[1:], false, false
		// A result frame the reader cannot decode fails its job alone
		// and retires the worker.
		w.retire = w.retire || rapid.IntRange(0, 3).Draw(t, "bad frame") == 3
		// The reader tops up its worker's queue itself (tracked.fill).
		if w.eligible() && !m.broken && len(m.queue) > 0 {
			n := rapid.IntRange(0, min(len(m.queue), 3)).Draw(t, "top up")
			w.fifo = append(w.fifo, m.queue[:n]...)
			m.queue = m.queue[n:]
		}
	case "death", "exit":
		w.dead = true
		w.read = rapid.Bool().Draw(t, "eof now")
	case "eof":
		w.read = true
	case "bad stream":
		w.read, w.badStream = true, true
	case "deadline":
		w.overdue = true
	}
	return true
}

func (m *trModel) check(t *rapid.T) {
	if m.restarts > m.budget {
		t.Fatalf("%d restarts, budget %d", m.restarts, m.budget)
	}
	if m.ended() && len(m.pending) > 0 && !m.broken {
		t.Fatalf("the pool has ended with %d jobs pending", len(m.pending))
	}
	if m.broken && len(m.pending) > 0 {
		t.Fatalf("the pool broke with %d jobs pending", len(m.pending))
	}
	if m.finished && m.live() > 0 {
		t.Fatalf("finished with %d workers not settled", m.live())
	}
	if m.finished || m.stopped {
		return
	}
	// The budget breaks the pool exactly when a running pool's deaths
	// need more replacements than it allows.
	if !m.closing && m.broken != (m.deaths > m.budget) {
		t.Fatalf("%d deaths, budget %d, broken %v", m.deaths, m.budget, m.broken)
	}
	if !m.closing && !m.broken && m.live() != m.workers {
		t.Fatalf("a running pool waits with %d workers of %d", m.live(), m.workers)
	}
	// Waiting: nothing must be left that only the supervisor moves, and
	// its wait is ready exactly while a death it caused is on its way.
	dying := false
	for i, w := range m.ws {
		switch {
		case w.done:
		case w.killed:
			dying = true
		case w.dead && w.read:
			t.Fatalf("worker %d: dead, its reader returned, not settled", i)
		case w.dead:
			// Its death waits for its reader; nothing to kill.
		case w.badStream, w.retire && len(w.fifo) == 0, w.overdue && len(w.fifo) > 0:
			t.Fatalf("worker %d: left alive with a bad stream, drained in retirement or past its deadline", i)
		case len(w.fifo) == 0 && !w.dead && !w.read && !w.retire && len(m.queue) > 0 && !m.broken:
			t.Fatalf("worker %d idle with %d jobs queued", i, len(m.queue))
		case len(w.fifo) == 0 && !w.dead && (m.closing || m.broken) && (len(m.queue) == 0 || m.broken):
			t.Fatalf("worker %d idle in an ending pool, not told to exit", i)
		}
	}
	if m.owed > 0 {
		t.Fatalf("waiting with %d replacements owed", m.owed)
	}
	if got := planSupervisor(m.state()).ready(); got != dying {
		t.Fatalf("the supervisor's wait is ready=%v, a death on its way: %v", got, dying)
	}
}

func TestPlanSupervisor(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &trModel{
			workers: rapid.IntRange(1, 3).Draw(t, "workers"), retries: rapid.IntRange(0, 2).Draw(t, "retries"),
			budget: rapid.IntRange(0, 5).Draw(t, "budget"), timeout: rapid.Bool().Draw(t, "timeout"),
			pending: map[int]bool{}, resolved: map[int]int{},
		}
		for range m.workers {
			m.ws = append(m.ws, &trWorker{})
		}
		t.Repeat(weighted(map[string]func(*rapid.T){
			"submit": func(t *rapid.T) {
				if m.closing || m.ended() {
					t.Skip("refused")
				}
				// One job, or a map's several before the supervisor wakes.
				for range rapid.IntRange(1, 3).Draw(t, "jobs") {
					m.queue = append(m.queue, trJob{id: m.nextJob, idempotent: rapid.Bool().Draw(t, "idempotent")})
					m.pending[m.nextJob] = true
					m.nextJob++
				}
				m.drive(t)
			},
			"worker": func(t *rapid.T) {
				if !m.workerEvent(t) {
					t.Skip("nothing can happen")
				}
				m.drive(t)
			},
			"close": func(t *rapid.T) {
				m.closing = true
				m.drive(t)
			},
			"terminate": func(t *rapid.T) {
				if m.ended() {
					return // Terminate after the end does nothing
				}
				m.closing, m.stopped = true, true
				for j := range m.pending {
					m.resolve(t, j)
				}
			},
			"": m.check,
		}, map[string]int{"submit": 3, "worker": 8}))
	})
}

// weighted gives the actions named in w that many names each: t.Repeat
// draws names uniformly, and a run should reach deaths and deadlines
// before Close and Terminate end it.
func weighted(actions map[string]func(*rapid.T), w map[string]int) map[string]func(*rapid.T) {
	out := map[string]func(*rapid.T){}
	for name, f := range actions {
		out[name] = f
		for i := 2; i <= w[name]; i++ {
			out[fmt.Sprintf("%s %d", name, i)] = f
		}
	}
	return out
}
