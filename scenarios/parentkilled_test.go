package scenarios_test

import (
	"flag"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"pgregory.net/rapid"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/internal/fdcount"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/scenarios"
	"github.com/poolhang/poolhang/scenarios/scenariotest"
)

// wantFate is each model's argued fate of its workers when the parent is
// killed, from its expectations file (scenarios/expect_*.go): failfast's
// and loky's workers hold the task pipe's write end, as 3.11's
// _process_worker holds the call queue whole, so they stay.
func wantFate(s pools.Strategy) scenarios.Verdict {
	e, err := scenarios.Expect(scenarios.Cell{Pool: s, Kind: "parent-killed", Phase: faults.TaskRun})
	if err != nil {
		return scenarios.Verdict("no expectation: " + err.Error())
	}
	return e.Verdict
}

// A killed parent's workers are followed to their end or proven orphans,
// the orphans reparented to the supervisor, which ends them: nothing is
// left, neither a worker nor a child of the harness nor a descriptor.
func TestParentKilledOrphans(t *testing.T) {
	fds := fdcount.Count(t)
	for _, s := range pools.Strategies() {
		t.Run(string(s), func(t *testing.T) {
			o := run(t, scenarios.Standard(s, "parent-killed", faults.TaskRun))
			if o.Verdict != wantFate(s) {
				t.Fatalf("verdict %s, want %s: %s", o.Verdict, wantFate(s), o.Diagnosis)
			}
			if len(o.Workers) != 2 {
				t.Fatalf("%d workers reported, want 2: %s", len(o.Workers), o.Diagnosis)
			}
			for _, w := range o.Workers {
				if o.Verdict == scenarios.Orphans {
					// As ps shows an orphan: asleep, its parent the subreaper.
					if !w.Alive || w.Proc != "S" || !strings.HasPrefix(w.State, "orphan: ") {
						t.Errorf("worker %d: alive=%v [%s] %s, want an orphan asleep", w.PID, w.Alive, w.Proc, w.State)
					}
				} else if w.Exit == "" {
					t.Errorf("worker %d did not end: %s", w.PID, w.State)
				}
				if unix.Kill(w.PID, 0) != unix.ESRCH {
					t.Errorf("worker %d is still there after the run", w.PID)
				}
			}
			if o.Verdict == scenarios.Orphans && !strings.Contains(o.Diagnosis, "(the subreaper)") {
				t.Errorf("the diagnosis does not name the orphans' new parent: %s", o.Diagnosis)
			}
			if kids := children(t); len(kids) > 0 {
				t.Errorf("child processes remain: %v", kids)
			}
		})
	}
	if got := fdcount.Count(t); got != fds {
		t.Errorf("descriptors: %d before, %d after", fds, got)
	}
}

// The fate is the pool's, whatever the shape: any number of workers and
// jobs, any wait style, any targeted job.
func TestPropertyParentKilledFateIsThePools(t *testing.T) {
	for _, s := range pools.Strategies() {
		t.Run(string(s), func(t *testing.T) {
			gen := scenariotest.Gen(scenariotest.GenOptions{Pools: []pools.Strategy{s}, MaxWorkers: 4, MaxJobs: 8, ParentKilled: true})
			withChecks(t, 20, func() {
				rapid.Check(t, func(rt *rapid.T) {
					sc := gen.Draw(rt, "scenario")
					if len(sc.Faults) == 0 {
						return // no job to strike
					}
					o, err := scenariotest.Run(sc)
					if err != nil {
						rt.Fatal(err)
					}
					if o.Verdict != wantFate(s) {
						rt.Fatalf("%s: %s, want %s: %s", sc, o.Verdict, wantFate(s), o.Diagnosis)
					}
					for _, w := range o.Workers {
						if unix.Kill(w.PID, 0) != unix.ESRCH {
							rt.Fatalf("%s: worker %d is still there after the run", sc, w.PID)
						}
					}
				})
			})
		})
	}
}

func TestParentKilledRunsAlone(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"pool=naive workers=2 jobs=6 fault=parent-killed@task-run:2 fault=segfault@task-run:3", "must be the scenario's only fault"},
		{"pool=naive workers=2 jobs=6 fault=parent-killed@idle-lock-waiter", "parent-killed strikes at: task-run"},
		{"pool=naive workers=2 jobs=6 fault=parent-killed@task-encode:2", "no worker mid-task"},
	} {
		_, err := scenarios.Parse(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
}

// withChecks runs f with rapid's number of checks set to n.
func withChecks(t *testing.T, n int, f func()) {
	fl := flag.Lookup("rapid.checks")
	if fl == nil {
		t.Fatal("no rapid.checks flag")
	}
	old := fl.Value.String()
	fl.Value.Set(strconv.Itoa(n))
	defer fl.Value.Set(old)
	f()
}
