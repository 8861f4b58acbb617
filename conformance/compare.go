package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// A Side is what one side (model or real) did with a scenario.
type Side struct {
	// Verdict is the model's (completed, raised, hang, hang-timeout) or
	// the real pool's (completed, raised, no-answer, parent-exited,
	// wrong-value).
	Verdict string
	// Kinds are the distinct error kinds, sorted (for the real pool,
	// mapped by RealKind).
	Kinds []string
	// Summary is one line of what happened.
	Summary string
}

func (s Side) String() string {
	if len(s.Kinds) > 0 {
		return s.Verdict + " [" + strings.Join(s.Kinds, ",") + "]"
	}
	return s.Verdict
}

// A Result is one scenario run on both sides.
type Result struct {
	Pair     Pair
	Scenario scenarios.Scenario
	Model    Side
	Real     Side
	// Skipped says why the scenario was not compared (a side refused it).
	Skipped string
	// Err is a failure of the harness itself (neither agreement nor a
	// disagreement).
	Err error
	// Agree: the two sides agree.
	Agree bool
	// Known is the known, argued difference that explains a
	// disagreement, if any.
	Known *Known
	// RealOutcome is the real run, for its evidence.
	RealOutcome realpools.Outcome
}

// Key names a disagreement's shape: it stays the same while shrinking.
func (r Result) Key() string {
	return fmt.Sprintf("model %s, real %s", r.Model.Verdict, r.Real.Verdict) + kindsNote(r)
}

func kindsNote(r Result) string {
	if r.Model.Verdict == string(scenarios.Raised) && r.Real.Verdict == string(realpools.Raised) {
		return fmt.Sprintf(" (kinds %v vs %v)", r.Model.Kinds, r.Real.Kinds)
	}
	return ""
}

// Agree reports whether a model's outcome and a real pool's agree: a
// proven hang against no answer, completed against completed, raised
// against raised with the same error kinds. With wait=map the real
// caller sees one error (the map raises its first), so there its kind
// must be one of the model's.
func Agree(sc scenarios.Scenario, m Side, r Side) bool {
	switch {
	case m.Verdict == string(scenarios.Hang):
		return r.Verdict == string(realpools.NoAnswer)
	case m.Verdict == string(scenarios.Completed):
		return r.Verdict == string(realpools.Completed)
	case m.Verdict == string(scenarios.Raised) && r.Verdict == string(realpools.Raised):
		if sc.Wait == scenarios.WaitMap {
			return len(r.Kinds) > 0 && !slices.ContainsFunc(r.Kinds, func(k string) bool { return !slices.Contains(m.Kinds, k) })
		}
		return slices.Equal(m.Kinds, r.Kinds)
	}
	return false
}

// Options tune a comparison.
type Options struct {
	// Python and Stall are passed to realpools.Run. A zero Stall is
	// DefaultStall.
	Python string
	Stall  time.Duration
}

// DefaultStall is the real runs' stall limit. The generated shapes are
// small (at most 4 workers, 12 jobs, 1 MiB payloads): fault-free, each
// pool answers them here in well under half a second, so the pool's own
// calibration (5 times that, never below 2 s) would give 2 s; a fixed
// limit a little above saves a calibration run per shape.
const DefaultStall = 3 * time.Second

// Compare runs sc on the pair's model and on its real pool.
func Compare(ctx context.Context, p Pair, sc scenarios.Scenario, o Options) Result {
	sc.Pool = p.Model
	res := Result{Pair: p, Scenario: sc}
	if err := sc.Validate(); err != nil {
		res.Skipped = "the model refuses it: " + err.Error()
		return res
	}
	stall := o.Stall
	if stall == 0 {
		stall = DefaultStall
	}
	mctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	mo, err := scenarios.Run(mctx, sc)
	cancel()
	if err != nil {
		res.Err = fmt.Errorf("model: %w", err)
		return res
	}
	if len(mo.Leftovers) > 0 {
		res.Err = fmt.Errorf("model: teardown left %v", mo.Leftovers)
		return res
	}
	res.Model = Side{Verdict: string(mo.Verdict), Kinds: ModelKinds(mo), Summary: mo.Summary}
	ro, err := realpools.Run(ctx, p.RealText(sc), realpools.Options{Python: o.Python, Stall: stall})
	switch {
	case errors.Is(err, realpools.ErrNotApplicable), errors.Is(err, realpools.ErrBadScenario):
		res.Skipped = "the real pool refuses it: " + skipReason(err)
		return res
	case err != nil:
		res.Err = fmt.Errorf("real: %w", err)
		return res
	}
	res.RealOutcome = ro
	res.Real = Side{Verdict: string(ro.Verdict), Kinds: RealKinds(ro), Summary: ro.Summary()}
	if mo.Verdict == scenarios.HangTimeout {
		res.Err = fmt.Errorf("model: no verdict before its backstop (hang-timeout): %s", mo.Diagnosis)
		return res
	}
	res.Agree = Agree(sc, res.Model, res.Real)
	if !res.Agree {
		res.Known = Explain(res)
	}
	return res
}

// skipReason is the refusal without the run's particulars (job numbers),
// so that refusals of the same kind count together.
func skipReason(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, realpools.ErrNotApplicable.Error()+": ")
	s = strings.TrimPrefix(s, realpools.ErrBadScenario.Error()+": ")
	return strings.TrimPrefix(s, "scenario: ")
}
