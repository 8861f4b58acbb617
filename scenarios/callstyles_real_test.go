package scenarios_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// The call styles on the real pools beside their models: a few cells of
// each section, run live on CPython's Pool (beside respawn) and
// ProcessPoolExecutor (beside failfast). They agree as the matrix's
// cells do: a proven hang where the real pool gave no answer, or the
// same answer with the same error kinds (scenarios.RealErrorKind, job by
// job, since these styles answer each job on its own).
func TestCallStylesBesideTheirModels(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP real pools under -short: each cell runs live, a no-answer takes at least 2 s")
	}
	if _, err := realpools.FindPython(); err != nil {
		t.Skipf("SKIP the call styles on real pools: %v; the model tests ran without them", err)
	}
	type tc struct {
		section, kind string
		phase         faults.Phase
		model         pools.Strategy
		real          string
	}
	var cases []tc
	for _, c := range []struct {
		section, kind string
		phase         faults.Phase
	}{
		{"callback", "raise", faults.TaskRun}, {"callback", "sigkill", faults.TaskRun}, {"callback", "raise", faults.Callback},
		{"imap", "raise", faults.Input}, {"imap", "sigkill", faults.TaskRun},
		{"imap_unordered", "raise", faults.Input}, {"imap_unordered", "raise", faults.TaskRun},
		{"imap-chunks", "raise", faults.TaskRun}, {"imap-chunks", "sigkill", faults.TaskRun}, {"imap-chunks", "raise", faults.Input},
	} {
		cases = append(cases, tc{c.section, c.kind, c.phase, pools.Respawn, "py:mp.Pool"})
		if c.section == "callback" {
			cases = append(cases, tc{c.section, c.kind, c.phase, pools.FailFast, "py:ProcessPoolExecutor"})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	slots := make(chan struct{}, 3) // a real run mostly waits, but 2 shared cores starve a dozen at once
	for _, c := range cases {
		cell := scenarios.Cell{Pool: c.model, Kind: c.kind, Phase: c.phase, Section: c.section}
		sec, err := scenarios.LookupSection(c.section)
		if err != nil {
			t.Fatal(err)
		}
		if sec.NA == nil {
			sec.NA = func(pools.Strategy) string { return "" }
		}
		if why := sec.NA(pools.Strategy(c.real)); why != "" {
			t.Fatalf("%s: %s is n/a: %s", cell, c.real, why)
		}
		rsc := sec.Shape(scenarios.Standard(pools.Strategy(c.real), c.kind, c.phase))
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			m := run(t, cell.Scenario())
			r, err := scenarios.RunReal(ctx, rsc, realpools.Options{})
			if err != nil || (r.Verdict == realpools.NoAnswer && m.Verdict != scenarios.Hang) {
				// As TestRealPoolsBesideTheirModels does: a pool starved
				// for its whole limit (or its calibration) on a loaded
				// machine looks stuck, so rerun with a long fixed limit.
				t.Logf("%s: %s (%v); rerun with a stall limit of %s", rsc, r.Summary(), err, 4*realpools.MinStall)
				r, err = scenarios.RunReal(ctx, rsc, realpools.Options{Stall: 4 * realpools.MinStall})
			}
			if err != nil {
				t.Errorf("%s: %v", rsc, err)
				return
			}
			var kinds []string
			for _, j := range r.Jobs {
				if j.Outcome == "error" {
					k := scenarios.RealErrorKind(&realpools.PyError{Class: j.Class, Message: j.Message}, c.phase)
					if !slices.Contains(kinds, k) {
						kinds = append(kinds, k)
					}
				}
			}
			slices.Sort(kinds)
			agree := false
			switch m.Verdict {
			case scenarios.Hang:
				agree = r.Verdict == realpools.NoAnswer
			case scenarios.Completed:
				agree = r.Verdict == realpools.Completed
			case scenarios.Raised:
				want := m.ErrorKinds()
				slices.Sort(want)
				agree = r.Verdict == realpools.Raised && slices.Equal(kinds, want)
			}
			if !agree {
				t.Errorf("%s: the model says %s %v, %s says %s %v\n  model: %s\n  real:  %s", cell, m.Verdict, m.ErrorKinds(), c.real, r.Verdict, kinds, m.Scenario.Command(), rsc.Command())
				return
			}
			t.Logf("%s: %s %v, and %s agrees (%s)", cell, m.Verdict, m.ErrorKinds(), c.real, rsc)
		}()
	}
	wg.Wait()
}
