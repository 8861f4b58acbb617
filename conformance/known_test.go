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
