package conformance_test

import (
	"testing"

	"github.com/poolhang/poolhang/conformance"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// The terminate_broken race is told from gh-94777 and from a live
// manager by the parent's threads, as the driver reports them.
func TestKnownTerminateBrokenRace(t *testing.T) {
	sc, err := scenarios.Parse("pool=failfast workers=4 jobs=12 payload=1048576 wait=get fault=raise@task-decode:4 fault=raise@result-decode:1 fault=raise@task-encode:6")
	if err != nil {
		t.Fatal(err)
	}
	feeder := realpools.Thread{Name: "QueueFeederThread", Stack: []string{
		`File "/usr/lib/python3.11/multiprocessing/queues.py", line 250, in _feed`,
		`File "/usr/lib/python3.11/multiprocessing/connection.py", line 373, in _send` + "\n    n = write(self._handle, buf)"}}
	caller := realpools.Thread{Name: "poolhang-caller", Stack: []string{`File "/usr/lib/python3.11/concurrent/futures/_base.py", line 451, in result`}}
	manager := realpools.Thread{Name: "Thread-1", Stack: []string{`File "/usr/lib/python3.11/concurrent/futures/process.py", line 342, in run`,
		`File "/usr/lib/python3.11/concurrent/futures/process.py", line 407, in wait_result_broken_or_wakeup`}}
	pair := conformance.Pair{Model: pools.FailFast, Real: "py:ProcessPoolExecutor"}
	for _, c := range []struct {
		name    string
		threads []realpools.Thread
		want    string
	}{
		{"manager dead", []realpools.Thread{feeder, caller}, "terminate-broken-dict-race"},
		{"manager alive", []realpools.Thread{feeder, caller, manager}, ""},
		{"no evidence", nil, ""},
	} {
		r := conformance.Result{Pair: pair, Scenario: sc, Model: conformance.Side{Verdict: string(scenarios.Raised)},
			Real: conformance.Side{Verdict: string(realpools.NoAnswer)}, RealOutcome: realpools.Outcome{Threads: c.threads}}
		got := ""
		if k := conformance.Explain(r); k != nil {
			got = k.ID
		}
		if got != c.want {
			t.Errorf("%s: explained by %q, want %q", c.name, got, c.want)
		}
	}
}

// A failfast map raises its first failed job's own error or
// BrokenProcessPool, as the break and that job's result race.
func TestKnownMapFirstFailureBroken(t *testing.T) {
	pair := conformance.Pair{Model: pools.FailFast, Real: "py:ProcessPoolExecutor"}
	for _, c := range []struct {
		sc          string
		model, real []string
		want        string
	}{
		{"pool=failfast workers=2 jobs=10 wait=map fault=raise@task-decode:4 fault=raise@task-run:0", []string{scenarios.ErrKindTask}, []string{scenarios.ErrKindBroken}, "map-first-failure-broken"},
		{"pool=failfast workers=2 jobs=10 wait=map fault=raise@task-decode:4 fault=raise@task-run:0", []string{scenarios.ErrKindBroken}, []string{scenarios.ErrKindTask}, "map-first-failure-broken"},
		// Nothing breaks the pool: no race to explain it.
		{"pool=failfast workers=2 jobs=10 wait=map fault=raise@task-run:4 fault=raise@task-run:0", []string{scenarios.ErrKindTask}, []string{scenarios.ErrKindBroken}, ""},
	} {
		sc, err := scenarios.Parse(c.sc)
		if err != nil {
			t.Fatal(err)
		}
		r := conformance.Result{Pair: pair, Scenario: sc, Model: conformance.Side{Verdict: string(scenarios.Raised), Kinds: c.model},
			Real: conformance.Side{Verdict: string(realpools.Raised), Kinds: c.real}}
		got := ""
		if k := conformance.Explain(r); k != nil {
			got = k.ID
		}
		if got != c.want {
			t.Errorf("%s, model %v, real %v: explained by %q, want %q", c.sc, c.model, c.real, got, c.want)
		}
	}
}

// mp.Pool's map divides by the pool's size, which a reaped, not yet
// replaced worker leaves at 0.
func TestKnownMapChunksizeEmptyPool(t *testing.T) {
	sc, err := scenarios.Parse("pool=respawn workers=1 jobs=11 wait=map fault=os-exit@idle-lock-holder")
	if err != nil {
		t.Fatal(err)
	}
	r := conformance.Result{Pair: conformance.Pair{Model: pools.Respawn, Real: "py:mp.Pool"}, Scenario: sc,
		Model: conformance.Side{Verdict: string(scenarios.Hang)},
		Real:  conformance.Side{Verdict: string(realpools.Raised), Kinds: []string{scenarios.ErrKindOther}, Summary: "raised (jobs: 11 call-raised) in 224ms: ZeroDivisionError: integer division or modulo by zero"}}
	if k := conformance.Explain(r); k == nil || k.ID != "map-chunksize-empty-pool" {
		t.Errorf("explained by %+v, want map-chunksize-empty-pool", k)
	}
	r.Real.Summary = "raised (jobs: 11 call-raised) in 224ms: ValueError: x"
	if k := conformance.Explain(r); k != nil {
		t.Errorf("another error explained by %s", k.ID)
	}
}

// A torn result frame races another job's answer, both ways.
func TestKnownTornFrameVsAnswer(t *testing.T) {
	pair := conformance.Pair{Model: pools.FailFast, Real: "py:ProcessPoolExecutor"}
	for _, c := range []struct {
		sc          string
		model, real string
		want        string
	}{
		{"pool=failfast workers=2 jobs=3 wait=map fault=segfault@result-write:2 fault=raise@task-decode:1 fault=stuck@task-run:1", "raised", "no-answer", "torn-frame-vs-answer"},
		{"pool=failfast workers=4 jobs=12 wait=map fault=segfault@result-write:9 fault=raise@task-run:7", "hang", "raised", "torn-frame-vs-answer"},
		// A torn frame alone: nothing races it.
		{"pool=failfast workers=2 jobs=3 wait=map fault=segfault@result-write:2 fault=stuck@task-run:1", "raised", "no-answer", ""},
	} {
		sc, err := scenarios.Parse(c.sc)
		if err != nil {
			t.Fatal(err)
		}
		r := conformance.Result{Pair: pair, Scenario: sc, Model: conformance.Side{Verdict: c.model}, Real: conformance.Side{Verdict: c.real}}
		got := ""
		if k := conformance.Explain(r); k != nil {
			got = k.ID
		}
		if got != c.want {
			t.Errorf("%s, model %s, real %s: explained by %q, want %q", c.sc, c.model, c.real, got, c.want)
		}
	}
}
