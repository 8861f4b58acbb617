package conformance

import (
	"fmt"
	"strings"

	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// A Pair is a model and the real pool it names.
type Pair struct {
	Model pools.Strategy
	Real  string
}

func (p Pair) String() string { return string(p.Model) + "=" + p.Real }

// DefaultPairs is every real pool that names its model and that the
// small search can afford: respawn with multiprocessing.Pool, failfast
// with ProcessPoolExecutor. billiard waits out its 10 s lost-worker
// grace for every lost worker, and loky starts each worker as a fresh
// Python (its own spawn), so 20 real scenarios of either take minutes
// on 2 cores; and the known differences are argued for the CPython pairs
// only. Search them on purpose: poolhang conform -pairs loky=py:loky.
func DefaultPairs() []Pair {
	var out []Pair
	for _, p := range realpools.Pools() {
		if p.Model == string(pools.Respawn) || p.Model == string(pools.FailFast) {
			out = append(out, Pair{pools.Strategy(p.Model), p.Name})
		}
	}
	return out
}

// ParsePairs reads MODEL=REAL[,MODEL=REAL...], as in
// respawn=py:mp.Pool,failfast=py:ProcessPoolExecutor.
func ParsePairs(s string) ([]Pair, error) {
	var out []Pair
	for _, f := range strings.Split(s, ",") {
		m, r, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return nil, fmt.Errorf("pair %q: want MODEL=REAL, as in respawn=py:mp.Pool", f)
		}
		sm, err := pools.ParseStrategy(m)
		if err != nil {
			return nil, fmt.Errorf("pair %q: %w", f, err)
		}
		if _, err := realpools.Lookup(r); err != nil {
			return nil, fmt.Errorf("pair %q: %w", f, err)
		}
		out = append(out, Pair{sm, r})
	}
	return out, nil
}

// RealText is the scenario's text with the real pool in place of the model.
func (p Pair) RealText(sc scenarios.Scenario) string {
	return strings.Replace(sc.String(), "pool="+string(sc.Pool), "pool="+p.Real, 1)
}

// Commands are the shell commands that replay the scenario on the model
// and on the real pool.
func (p Pair) Commands(sc scenarios.Scenario) [2]string {
	return [2]string{sc.Command(), "go run ./cmd/poolhang run '" + p.RealText(sc) + "'"}
}
