package scenarios_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// TestSectionsOnRealPools runs the cells of the chunks, maxtasks and
// initializer sections live on the real counterparts of the models
// (py:mp.Pool beside respawn, py:ProcessPoolExecutor beside failfast),
// shaped by each section as the model's, and checks that each agrees with
// the model's committed cell: a model hang or livelock with a real
// no-answer, the same answer otherwise (scenarios.Agrees' rules).
func TestSectionsOnRealPools(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP real pools under -short: the sections' real cells run live, about 20 s")
	}
	if _, err := realpools.FindPython(); err != nil {
		t.Skipf("SKIP the sections on real pools: %v; the model tests ran without them", err)
	}
	model := committedMatrix(t)
	type job struct {
		mc scenarios.MatrixCell
		sc scenarios.Scenario
	}
	var jobs []job
	for _, s := range scenarios.Sections() {
		for _, p := range scenarios.Pairs() {
			if s.NA != nil && (s.NA(p.Model) != "" || s.NA(pools.Strategy(p.Real)) != "") {
				continue
			}
			for _, r := range s.Rows {
				mc, ok := model.Cell(scenarios.Cell{Pool: p.Model, Kind: r.Kind, Phase: r.Phase, Section: s.Name})
				if !ok {
					continue
				}
				jobs = append(jobs, job{mc, s.Shape(scenarios.Standard(pools.Strategy(p.Real), r.Kind, r.Phase))})
			}
		}
	}
	if len(jobs) == 0 {
		t.Fatal("no section cell has a real counterpart")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // a real run mostly waits
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			o, err := scenarios.RunReal(ctx, j.sc, realpools.Options{})
			if err == nil && o.Verdict == realpools.NoAnswer && j.mc.Verdict != string(scenarios.Hang) && j.mc.Verdict != string(scenarios.Livelock) {
				// Confirm a no-answer where the model answers, alone and
				// with twice the limit: 2 shared cores can starve a pool.
				o, err = scenarios.RunReal(ctx, j.sc, realpools.Options{Stall: 2 * time.Duration(o.LimitS*float64(time.Second))})
			}
			if err != nil {
				t.Errorf("%s: %v", j.sc, err)
				return
			}
			if why := sectionAgrees(j.mc, o, j.sc); why != "" {
				t.Errorf("%s: the model (%s) and the real pool disagree: %s\n  model: %s\n  real: %s", j.mc.Section, j.mc.Pool, why, j.mc.Reproduce, j.sc.Command())
			}
			t.Logf("%s %s: model %s, real %s", j.mc.Section, j.sc, j.mc.Verdict, o.Summary())
		}()
	}
	wg.Wait()
}

// sectionAgrees says how a model's cell and a real outcome differ, or "".
func sectionAgrees(mc scenarios.MatrixCell, o realpools.Outcome, sc scenarios.Scenario) string {
	switch scenarios.Verdict(mc.Verdict) {
	case scenarios.Hang, scenarios.Livelock:
		if o.Verdict != realpools.NoAnswer {
			return fmt.Sprintf("model %s, real %s", mc.Verdict, o.Verdict)
		}
		// Every worker started dies in the initializer, but up to
		// sc.Workers of them may still be starting when the run ends.
		if mc.Verdict == string(scenarios.Livelock) && (o.InitFailures < 2 || o.WorkersStarted-o.InitFailures > sc.Workers) {
			return fmt.Sprintf("a livelock, but the real pool restarted %d workers, %d of them dying in the initializer", o.WorkersStarted, o.InitFailures)
		}
	case scenarios.Completed:
		if o.Verdict != realpools.Completed {
			return fmt.Sprintf("model completed, real %s", o.Verdict)
		}
	case scenarios.Raised:
		if o.Verdict != realpools.Raised {
			return fmt.Sprintf("model raised, real %s", o.Verdict)
		}
		e := o.CallError
		for i := range o.Jobs {
			if e == nil && o.Jobs[i].Class != "" {
				e = &realpools.PyError{Class: o.Jobs[i].Class, Message: o.Jobs[i].Message}
			}
		}
		if k := scenarios.RealErrorKind(e, sc.Faults[0].Phase); !slices.Contains(mc.Errors, k) {
			return fmt.Sprintf("model raised %v, real raised %s", mc.Errors, k)
		}
	default:
		return "model " + mc.Verdict
	}
	return ""
}
