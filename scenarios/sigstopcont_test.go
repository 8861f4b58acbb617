package scenarios_test

import (
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/scenarios"
	"github.com/poolhang/poolhang/scenarios/scenariotest"
)

// The continued stop beside the stop that lasts, cell by cell: where
// sigstop's cell hangs, the stopped worker was all that kept the caller
// waiting, so sigstop-cont's SIGCONT (sent at exactly that point) gives a
// late, whole answer; where a deadline answers sigstop (tracked), it
// answers sigstop-cont the same way, before any SIGCONT.
func TestSigstopContBesideSigstop(t *testing.T) {
	t.Parallel()
	cont, _ := faults.Lookup("sigstop-cont")
	for _, s := range pools.Strategies() {
		for _, ph := range cont.Meaningful() {
			if cont.Check(s, ph, 2) != nil {
				continue
			}
			t.Run(string(s)+"/"+string(ph), func(t *testing.T) {
				stop := run(t, scenarios.Standard(s, "sigstop", ph))
				o := run(t, scenarios.Standard(s, "sigstop-cont", ph))
				switch stop.Verdict {
				case scenarios.Hang:
					if o.Verdict != scenarios.Completed {
						t.Fatalf("sigstop hangs, so the continued stop should answer late and whole; got %s: %s", o.Verdict, o.Diagnosis)
					}
					if ok, _, _ := o.Count(); ok != o.Scenario.Jobs {
						t.Errorf("%d of %d jobs ok: %s", ok, o.Scenario.Jobs, o.Diagnosis)
					}
					if !strings.Contains(o.Summary, "was stopped by SIGSTOP") || !strings.Contains(o.Summary, "(state T") ||
						!strings.Contains(o.Summary, "continued with SIGCONT") {
						t.Errorf("the summary does not say the worker was stopped (T) and then continued: %s", o.Summary)
					}
				case scenarios.Raised:
					if o.Verdict != stop.Verdict || !slices.Equal(o.ErrorKinds(), stop.ErrorKinds()) {
						t.Fatalf("sigstop raised %v, the continued stop %s %v: %s", stop.ErrorKinds(), o.Verdict, o.ErrorKinds(), o.Diagnosis)
					}
					if !strings.Contains(o.Summary, "no SIGCONT was sent") {
						t.Errorf("the summary does not say that no SIGCONT was sent: %s", o.Summary)
					}
				default:
					t.Fatalf("sigstop gave %s, which this test does not argue: %s", stop.Verdict, stop.Diagnosis)
				}
			})
		}
	}
}

// Without a deadline tracked waits for its stopped worker like any other
// pool, and the continue answers every job.
func TestSigstopContTrackedWithoutDeadline(t *testing.T) {
	sc := scenarios.Standard(pools.Tracked, "sigstop-cont", faults.TaskRun)
	sc.Deadline = 0
	o := run(t, sc)
	if o.Verdict != scenarios.Completed || !strings.Contains(o.Summary, "continued with SIGCONT") {
		t.Fatalf("%s: %s, want completed after a SIGCONT: %s", sc, o.Verdict, o.Diagnosis)
	}
}

// terminate() and shutdown() are refused with a reason, before any work.
func TestSigstopContRefusedWithEndings(t *testing.T) {
	for _, text := range []string{
		"pool=respawn workers=2 jobs=6 wait=terminate fault=sigstop-cont@task-run:2",
		"pool=failfast workers=2 jobs=6 wait=shutdown fault=sigstop-cont@task-run:2",
	} {
		sc, err := scenarios.Parse(text)
		if err == nil {
			err = sc.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), "not modelled") || !strings.Contains(err.Error(), "sigstop-cont") {
			t.Errorf("%s: error %v, want a refusal naming the fault and saying it is not modelled", text, err)
		}
	}
}

// With only continued stops, anywhere, on any pool without a deadline,
// with any wait that ends by itself, every job is answered, correctly:
// no pool gives up on a stopped worker.
func TestPropertySigstopContAnswersEveryJob(t *testing.T) {
	var waits []scenarios.WaitStyle
	for _, w := range scenarios.WaitStylesFor(pools.Respawn) {
		if !w.Ends() {
			waits = append(waits, w)
		}
	}
	keep := func(k faults.Kind, _ faults.Phase) bool { return k.Name == "sigstop-cont" }
	gen := scenariotest.Gen(scenariotest.GenOptions{Keep: keep, MaxWorkers: 4, MaxJobs: 12, Waits: waits})
	rapid.Check(t, func(rt *rapid.T) {
		sc := gen.Draw(rt, "scenario")
		if !slices.Contains(scenarios.WaitStylesFor(sc.Pool), sc.Wait) {
			rt.Skipf("%s has no wait=%s", sc.Pool, sc.Wait)
		}
		o, err := scenariotest.Run(sc)
		if err != nil {
			rt.Fatal(err)
		}
		if ok, _, _ := o.Count(); o.Verdict != scenarios.Completed || ok != sc.Jobs {
			rt.Fatalf("%s: %s with %d of %d jobs ok, want every job answered: %s\n  replay: %s", sc, o.Verdict, ok, sc.Jobs, o.Diagnosis, sc.Command())
		}
	})
}
