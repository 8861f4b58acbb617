package conformance

import (
	"context"
	"flag"
	"strconv"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/poolhang/poolhang/scenarios"
	"github.com/poolhang/poolhang/scenarios/scenariotest"
)

// shrink finds a minimal scenario that disagrees the way r does: first
// rapid's shrinking, started from the seed that drew r's scenario, then
// a greedy minimizer, which rapid's can leave at a local minimum. Every
// step runs both sides for real.
func shrink(ctx context.Context, cfg Config, seed int, r Result) Result {
	best := r
	if m, ok := rapidShrink(ctx, cfg, seed, r); ok {
		best = m
	}
	return greedy(ctx, cfg, best)
}

// rapid's flags are global: one shrink at a time.
var rapidMu sync.Mutex

func rapidShrink(ctx context.Context, cfg Config, seed int, r Result) (Result, bool) {
	rapidMu.Lock()
	defer rapidMu.Unlock()
	if !testing.Testing() {
		// rapid.Check asks testing.Short, which needs testing's flags.
		testing.Init()
		if !flag.Parsed() {
			flag.CommandLine.Parse(nil)
		}
	}
	key := r.Key()
	gen := Gen(cfg.Pair)
	var last *Result
	var first *scenarios.Scenario
	prop := func(t *rapid.T) {
		sc := gen.Draw(t, "scenario")
		if first == nil {
			first = &sc
		}
		if ctx.Err() != nil {
			return
		}
		got := Compare(ctx, cfg.Pair, sc, cfg.Options)
		if got.Err == nil && got.Skipped == "" && !got.Agree && got.Key() == key {
			last = &got
			t.Fatal(key) // rapid shrinks while the message stays the same
		}
	}
	rec := &scenariotest.Recorder{Label: "conformance"}
	withFlags(map[string]string{
		"rapid.seed": strconv.Itoa(seed), "rapid.checks": "1", "rapid.nofailfile": "true",
		"rapid.shrinktime": cfg.ShrinkTime.String(),
	}, func() { rapid.Check(rec, prop) })
	if first == nil || first.String() != r.Scenario.String() || last == nil {
		// rapid did not draw the same scenario from the seed, or the
		// disagreement did not repeat: the greedy minimizer starts from r.
		return r, false
	}
	return *last, true
}

// greedy drops a fault, lowers a target job, drops a job, drops a
// worker, shrinks the payload, or tries an earlier wait style, while the
// scenario still disagrees the same way, within cfg.ShrinkTime.
func greedy(ctx context.Context, cfg Config, r Result) Result {
	key := r.Key()
	deadline := time.Now().Add(cfg.ShrinkTime)
	tried := map[string]bool{r.Scenario.String(): true}
	for changed := true; changed && time.Now().Before(deadline) && ctx.Err() == nil; {
		changed = false
		for _, c := range r.Scenario.Smaller() {
			if tried[c.String()] || c.Validate() != nil {
				continue
			}
			tried[c.String()] = true
			got := Compare(ctx, cfg.Pair, c, cfg.Options)
			if got.Err == nil && got.Skipped == "" && !got.Agree && got.Key() == key {
				r, changed = got, true
				break
			}
			if time.Now().After(deadline) {
				break
			}
		}
	}
	return r
}

// withFlags sets rapid's flags for the duration of f.
func withFlags(kv map[string]string, f func()) {
	old := map[string]string{}
	for k, v := range kv {
		fl := flag.Lookup(k)
		if fl == nil {
			continue
		}
		old[k] = fl.Value.String()
		fl.Value.Set(v)
	}
	defer func() {
		for k, v := range old {
			flag.Lookup(k).Value.Set(v)
		}
	}()
	f()
}
