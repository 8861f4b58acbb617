package conformance

import (
	"github.com/poolhang/poolhang/scenarios"
)

// A Known is a known, argued difference between a model and its real
// pool: which disagreements it covers and why they happen, from the
// source.
type Known struct {
	ID   string
	Pair Pair
	// Cause is who is off: "model" (the model is wrong; Why says how to
	// fix it), "python" (a bug of this Python version, fixed in a later
	// one), or "race" (the real pool is nondeterministic).
	Cause string
	Why   string
	// Match reports whether a disagreement is this one.
	Match func(Result) bool `json:"-"`
}

// Explain returns the known difference that explains a disagreement, or
// nil.
func Explain(r Result) *Known {
	for i := range known {
		k := &known[i]
		if k.Pair == r.Pair && k.Match(r) {
			return k
		}
	}
	return nil
}

// KnownDifferences lists the table.
func KnownDifferences() []Known { return append([]Known(nil), known...) }

func has(sc scenarios.Scenario, pred func(scenarios.Fault) bool) bool {
	for _, f := range sc.Faults {
		if pred(f) {
			return true
		}
	}
	return false
}

var known = []Known{}
