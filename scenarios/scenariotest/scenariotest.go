// Package scenariotest is what both test suites share: the table of
// matrix cells with their expectations, the check of an outcome against
// its expectation, and the generator of scenarios for rapid's properties.
package scenariotest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"pgregory.net/rapid"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/scenarios"
)

// A Case is one cell of the matrix: its standard scenario and what it is
// expected to do.
type Case struct {
	Cell     scenarios.Cell
	Scenario scenarios.Scenario
	Expect   scenarios.Expectation
	// ExpectErr is why the cell has no expectation (a file to write).
	ExpectErr error
}

// Cases is the table of every meaningful cell, from the fault catalog and
// the strategies, so a new kind or strategy appears in both suites with no
// other edit.
func Cases() []Case {
	var out []Case
	for _, c := range scenarios.Cells() {
		e, err := scenarios.Expect(c)
		out = append(out, Case{Cell: c, Scenario: c.Scenario(), Expect: e, ExpectErr: err})
	}
	return out
}

// Verify checks an outcome of the case's scenario against its expectation;
// the error says what happened and how to reproduce it.
func (c Case) Verify(o scenarios.Outcome) error {
	if c.ExpectErr != nil {
		return c.ExpectErr
	}
	return Check(o, c.Expect)
}

// Check compares an outcome with an expectation.
func Check(o scenarios.Outcome, e scenarios.Expectation) error {
	sc := o.Scenario
	if o.Verdict != e.Verdict {
		return fmt.Errorf("%s: verdict %s, expected %s because %s\n  diagnosis: %s\n  reproduce: %s", sc, o.Verdict, e.Verdict, e.Reason, o.Diagnosis, sc.Command())
	}
	if e.Verdict == scenarios.Raised && !slices.Equal(o.ErrorKinds(), e.Errors) {
		return fmt.Errorf("%s: errors %v, expected %v because %s\n  diagnosis: %s\n  reproduce: %s", sc, o.ErrorKinds(), e.Errors, e.Reason, o.Diagnosis, sc.Command())
	}
	if o.Diagnosis == "" {
		return fmt.Errorf("%s: no diagnosis", sc)
	}
	if o.Verdict == scenarios.Hang && len(o.Causes) == 0 {
		return fmt.Errorf("%s: a hang with no named cause: %s", sc, o.Diagnosis)
	}
	return nil
}

// Run runs sc within a minute and fails if teardown left anything.
func Run(sc scenarios.Scenario) (scenarios.Outcome, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o, err := scenarios.Run(ctx, sc)
	if err != nil {
		return o, fmt.Errorf("%s: %w", sc, err)
	}
	if len(o.Leftovers) > 0 {
		return o, fmt.Errorf("%s: teardown left %v", sc, o.Leftovers)
	}
	return o, nil
}

// GenOptions shape the scenarios Gen draws.
type GenOptions struct {
	// Pools to draw from; every strategy if empty.
	Pools []pools.Strategy
	// Keep, if set, filters the faults a scenario may have.
	Keep func(faults.Kind, faults.Phase) bool
	// MaxWorkers and MaxJobs bound the draws (0: 8 workers, 64 jobs).
	MaxWorkers, MaxJobs int
	// Payloads, if set, are the payload sizes to draw from (0 is square(i));
	// put the smallest first, as rapid shrinks toward the first.
	Payloads []int
	// Options: also draw the pool options (maxtasks=, initializer=,
	// chunksize=) where the pool takes them (drawOptions).
	Options bool
	// Waits, if set, are the wait styles to draw from; otherwise every
	// style the pool has (scenarios.WaitStylesFor).
	Waits []scenarios.WaitStyle
	// ParentKilled draws only the parent-killed fault, alone, and
	// otherwise it is never drawn: with the parent killed there is no
	// caller left, so the laws about answers do not apply to it.
	ParentKilled bool
}

// NoFaults keeps no fault.
func NoFaults(faults.Kind, faults.Phase) bool { return false }

// Gen draws a scenario: 1-8 workers, 0-64 jobs, 0-3 faults anywhere
// meaningful for its pool, any waiting style (bounds and payloads as the
// options say).
func Gen(o GenOptions) *rapid.Generator[scenarios.Scenario] {
	ps := o.Pools
	if len(ps) == 0 {
		ps = pools.Strategies()
	}
	return rapid.Custom(func(t *rapid.T) scenarios.Scenario {
		pool := ps[0]
		if len(ps) > 1 {
			pool = rapid.SampledFrom(ps).Draw(t, "pool")
		}
		return draw(t, pool, o)
	})
}

func draw(t *rapid.T, pool pools.Strategy, o GenOptions) scenarios.Scenario {
	keep := o.Keep
	sc := scenarios.Scenario{
		Pool:    pool,
		Workers: rapid.IntRange(1, or(o.MaxWorkers, 8)).Draw(t, "workers"),
		Jobs:    rapid.IntRange(0, or(o.MaxJobs, 64)).Draw(t, "jobs"),
	}
	waits := o.Waits
	if len(waits) == 0 {
		waits = scenarios.WaitStylesFor(pool)
	}
	sc.Wait = rapid.SampledFrom(waits).Draw(t, "wait")
	if len(o.Payloads) > 0 {
		sc.Payload = rapid.SampledFrom(o.Payloads).Draw(t, "payload")
	}
	if (sc.Wait == scenarios.WaitIMap || sc.Wait == scenarios.WaitIMapUnordered) && pool.Supports(pools.OptionChunkSize) {
		sc.ChunkSize = rapid.SampledFrom([]int{0, 2, 3}).Draw(t, "chunksize")
	}
	// The options do not depend on the draws above, so shrinking workers
	// or jobs keeps the same fault; one that cannot strike is skipped.
	var opts []scenarios.Fault
	for _, k := range faults.Kinds() {
		for _, ph := range append(k.Meaningful(), scenarios.CallerPhases(sc.Wait)...) {
			if keep != nil && !keep(k, ph) || (k.Effect == faults.ParentDies) != o.ParentKilled {
				continue
			}
			if k.Check(pool, ph, pools.MaxWorkers) == nil {
				opts = append(opts, scenarios.Fault{Kind: k.Name, Phase: ph, Job: -1})
			}
		}
	}
	n := rapid.IntRange(0, 3).Draw(t, "faults")
	if o.ParentKilled {
		n = 1 // it runs alone (scenarios: parentKilledAlone)
	}
	for i := 0; i < n && len(opts) > 0; i++ {
		f := rapid.SampledFrom(opts).Draw(t, "fault")
		k, _ := faults.Lookup(f.Kind)
		info, _ := faults.ParsePhase(string(f.Phase))
		if info.TakesJob() {
			if sc.Jobs == 0 {
				continue
			}
			f.Job = rapid.IntRange(0, sc.Jobs-1).Draw(t, "job")
		}
		if k.Check(pool, f.Phase, sc.Workers) != nil {
			continue
		}
		if try := append(append([]scenarios.Fault(nil), sc.Faults...), f); (scenarios.Scenario{Faults: try, Wait: sc.Wait}).FaultsCombine() != nil {
			continue // a combination the scenario refuses (FaultsCombine)
		}
		sc.Faults = append(sc.Faults, f)
	}
	if o.Options {
		drawOptions(t, &sc)
	}
	return sc
}

func or(n, dflt int) int {
	if n > 0 {
		return n
	}
	return dflt
}
