package pools

import (
	"testing"

	"pgregory.net/rapid"
)

// ffModel is an abstract ProcessPoolExecutor driven only by planManager:
// jobs, workers and pipes are counters and lists, no process runs. The
// test applies the plans as manage does and checks, after every event,
// what the design promises.
type ffModel struct {
	capacity  int
	queued    []int       // submitted, not on the call queue
	callQueue []int       // on the call queue, not taken
	holds     map[int]int // worker -> job it runs
	live      map[int]bool
	exiting   map[int]bool // said it was exiting (got its sentinel)
	unseen    []int        // dead workers the manager has not taken
	results   []int        // jobs whose results are in the result pipe
	pending   map[int]bool
	resolved  map[int]int // job -> times resolved
	inFlight  int
	nextJob   int
	closing   bool
	sentinels bool
	broken    bool
	finished  bool
	stopped   bool // terminate
	abrupt    bool // a worker died abruptly
}

func (m *ffModel) state() managerState {
	st := managerState{
		queued: len(m.queued), room: m.inFlight < m.capacity, closing: m.closing,
		pending: len(m.pending), sentinels: m.sentinels, live: len(m.live), resultBytes: len(m.results) > 0,
	}
	for _, w := range m.unseen {
		st.deaths = append(st.deaths, m.exiting[w])
	}
	return st
}

func (m *ffModel) resolve(t *rapid.T, job int) {
	if !m.pending[job] {
		return // ApplyResult._set on a job gone from the cache
	}
	delete(m.pending, job)
	m.resolved[job]++
	if m.resolved[job] > 1 {
		t.Fatalf("job %d resolved twice", job)
	}
}

// drive runs the manager until it waits, breaks or finishes.
func (m *ffModel) drive(t *rapid.T) {
	for steps := 0; !m.broken && !m.finished && !m.stopped; steps++ {
		if steps > 1000 {
			t.Fatal("the manager never waits")
		}
		pl := planManager(m.state())
		switch {
		case !pl.acts():
			return
		case pl.feed:
			for m.inFlight < m.capacity && len(m.queued) > 0 {
				m.callQueue = append(m.callQueue, m.queued[0])
				m.queued = m.queued[1:]
				m.inFlight++
			}
		case pl.sentinels:
			m.sentinels = true
			for w := range m.live { // each takes its None and says so
				m.exiting[w] = true
				delete(m.live, w)
				m.unseen = append(m.unseen, w)
			}
		case pl.finish:
			m.finished = true
		case pl.recv:
			m.resolve(t, m.results[0])
			m.results = m.results[1:]
			m.inFlight--
		case pl.seeDeaths:
			m.unseen = nil
			if pl.abrupt >= 0 {
				m.broken = true
				for j := range m.pending {
					m.resolve(t, j)
				}
			}
		}
	}
}

// pick draws a live worker for which ok holds, or skips the step.
func (m *ffModel) pick(t *rapid.T, ok func(w int) bool) int {
	var ws []int
	for w := range m.capacity {
		if m.live[w] && ok(w) {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		t.Skip("no such worker")
	}
	return rapid.SampledFrom(ws).Draw(t, "worker")
}

func (m *ffModel) check(t *rapid.T) {
	if m.abrupt && !m.broken && !m.stopped {
		t.Fatal("a worker died abruptly and the pool is not broken")
	}
	if (m.broken || m.stopped) && len(m.pending) > 0 {
		t.Fatalf("the pool has ended with %d jobs pending", len(m.pending))
	}
	if m.finished && (len(m.live) > 0 || len(m.pending) > 0) {
		t.Fatalf("finished with %d workers live and %d jobs pending", len(m.live), len(m.pending))
	}
	if m.broken || m.finished || m.stopped {
		return
	}
	// Waiting: nothing must be left that only the manager moves.
	if len(m.results) > 0 || len(m.unseen) > 0 {
		t.Fatalf("the manager waits with %d results unread and %d deaths not taken", len(m.results), len(m.unseen))
	}
	if len(m.queued) > 0 && m.inFlight < m.capacity {
		t.Fatal("the manager waits with calls to queue and room for them")
	}
	if m.closing && len(m.pending) == 0 && !m.sentinels {
		t.Fatal("the manager waits, closed and idle, without telling the workers to exit")
	}
}

func TestPlanManager(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		workers := rapid.IntRange(1, 3).Draw(t, "workers")
		m := &ffModel{
			capacity: workers + rapid.IntRange(0, 2).Draw(t, "extra"), holds: map[int]int{}, live: map[int]bool{},
			exiting: map[int]bool{}, pending: map[int]bool{}, resolved: map[int]int{},
		}
		for w := range workers {
			m.live[w] = true
		}
		ended := func() bool { return m.broken || m.finished || m.stopped }
		t.Repeat(map[string]func(*rapid.T){
			"submit": func(t *rapid.T) {
				if m.closing || ended() {
					t.Skip("refused")
				}
				m.queued = append(m.queued, m.nextJob)
				m.pending[m.nextJob] = true
				m.nextJob++
				m.drive(t)
			},
			"take": func(t *rapid.T) {
				w := m.pick(t, func(w int) bool { _, busy := m.holds[w]; return !busy && len(m.callQueue) > 0 })
				m.holds[w], m.callQueue = m.callQueue[0], m.callQueue[1:]
			},
			"result": func(t *rapid.T) {
				w := m.pick(t, func(w int) bool { _, busy := m.holds[w]; return busy })
				m.results = append(m.results, m.holds[w])
				delete(m.holds, w)
				m.drive(t)
			},
			"death": func(t *rapid.T) {
				if ended() {
					t.Skip("ended")
				}
				w := m.pick(t, func(int) bool { return true })
				delete(m.live, w)
				m.unseen = append(m.unseen, w)
				m.abrupt = true
				m.drive(t)
			},
			"close": func(t *rapid.T) {
				m.closing = true
				m.drive(t)
			},
			"terminate": func(t *rapid.T) {
				if ended() {
					t.Skip("ended")
				}
				m.closing, m.stopped = true, true
				for j := range m.pending {
					m.resolve(t, j)
				}
			},
			"": m.check,
		})
	})
}
