package conformance

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/scenarios"
	"github.com/poolhang/poolhang/scenarios/scenariotest"

	"pgregory.net/rapid"
)

// Config shapes a search.
type Config struct {
	Pair Pair
	// N is how many distinct scenarios to run.
	N int
	// Parallel is how many scenarios run at once (a real run mostly
	// waits, so more than the cores). 0 means 8.
	Parallel int
	// Seed is the first of the rapid seeds the scenarios are drawn from
	// (scenario i has seed Seed+i, or the next that draws a new one).
	Seed int
	// Repeat is how many times each minimal disagreement is replayed, to
	// see whether the real pool is nondeterministic there. 0 means 10.
	Repeat int
	// ShrinkTime bounds each disagreement's shrinking (rapid, then the
	// greedy minimizer, each). 0 means 60 s.
	ShrinkTime time.Duration
	// NoShrink skips shrinking and replays (the quick test).
	NoShrink bool
	Options
	// Progress, if set, gets a line per scenario.
	Progress io.Writer
}

// Gen draws the search's scenarios for a model: 1-4 workers, 0-12 jobs,
// every wait style, 0-3 faults anywhere meaningful for the model, and a
// payload of 0 (square(i)), 100 KiB or 1 MiB, so that large tasks and
// results are in flight in the pipes when a worker dies (python/cpython
// issue 94777).
func Gen(p Pair) *rapid.Generator[scenarios.Scenario] {
	return scenariotest.Gen(scenariotest.GenOptions{
		Pools:      []pools.Strategy{p.Model},
		MaxWorkers: 4,
		MaxJobs:    12,
		Payloads:   []int{0, 0, 100 << 10, 1 << 20},
		// The call styles that end the pool (terminate, shutdown) are
		// not searched yet: their real runs give up a get by a timeout.
		Waits: []scenarios.WaitStyle{scenarios.WaitMap, scenarios.WaitGet, scenarios.WaitJoin},
	})
}

// A Finding is one shape of disagreement (Result.Key): how often it was
// seen, its first instance, its minimal one, and how the minimal one
// replays.
type Finding struct {
	Key     string
	Count   int
	First   Result
	Minimal Result
	// Replays counts the minimal scenario's verdicts over Repeat runs,
	// per side: "model hang" -> 10, "real no-answer" -> 7, ...
	Replays map[string]int
	Known   *Known
}

// A Report is one search.
type Report struct {
	Pair      Pair
	Seed      int
	Ran       int
	Agree     int
	Disagree  int
	Explained int
	Errors    []string
	Skipped   map[string]int
	SkippedN  int
	Findings  []*Finding
	Wall      time.Duration
	Verdicts  map[string]int // "hang/no-answer" -> n, over agreements
	Drawn     int
}

// Unexplained lists the findings no known difference explains.
func (r Report) Unexplained() []*Finding {
	var out []*Finding
	for _, f := range r.Findings {
		if f.Known == nil {
			out = append(out, f)
		}
	}
	return out
}

// Search draws cfg.N distinct scenarios, runs each on both sides, and
// shrinks each shape of disagreement to a minimal scenario.
func Search(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	if cfg.Repeat <= 0 {
		cfg.Repeat = 10
	}
	if cfg.ShrinkTime <= 0 {
		cfg.ShrinkTime = 60 * time.Second
	}
	start := time.Now()
	scs, drawnN := draw(cfg)
	rep := Report{Pair: cfg.Pair, Seed: cfg.Seed, Skipped: map[string]int{}, Verdicts: map[string]int{}, Drawn: drawnN}
	results := compareAll(ctx, cfg, scs)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	byKey := map[string]*Finding{}
	for i, r := range results {
		switch {
		case r.Err != nil:
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", r.Scenario, r.Err))
			continue
		case r.Skipped != "":
			rep.SkippedN++
			rep.Skipped[r.Skipped]++
			continue
		}
		rep.Ran++
		if r.Agree {
			rep.Agree++
			rep.Verdicts[r.Model.Verdict+"/"+r.Real.Verdict]++
			continue
		}
		rep.Disagree++
		if r.Known != nil {
			rep.Explained++
		}
		f := byKey[findingKey(r)]
		if f == nil {
			f = newFinding(ctx, cfg, scs[i].seed, r)
			byKey[findingKey(r)] = f
			rep.Findings = append(rep.Findings, f)
		}
		f.Count++
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool { return rep.Findings[i].Count > rep.Findings[j].Count })
	rep.Wall = time.Since(start)
	return rep, nil
}

// A drawn scenario, and the seed that drew it (shrinking starts from it).
type drawn struct {
	seed int
	sc   scenarios.Scenario
}

// draw draws cfg.N distinct scenarios from cfg.Seed on, and says how many
// seeds it took.
func draw(cfg Config) ([]drawn, int) {
	gen := Gen(cfg.Pair)
	var scs []drawn
	seen := map[string]bool{}
	seed := cfg.Seed
	for len(scs) < cfg.N && seed < cfg.Seed+50*cfg.N+100 {
		sc := gen.Example(seed)
		if !seen[sc.String()] {
			seen[sc.String()] = true
			scs = append(scs, drawn{seed, sc})
		}
		seed++
	}
	return scs, seed - cfg.Seed
}

// compareAll compares each scenario on both sides, cfg.Parallel at once,
// with a progress line per scenario.
func compareAll(ctx context.Context, cfg Config, scs []drawn) []Result {
	results := make([]Result, len(scs))
	sem := make(chan struct{}, cfg.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i, d := range scs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = Result{Pair: cfg.Pair, Scenario: d.sc, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			r := Compare(ctx, cfg.Pair, d.sc, cfg.Options)
			results[i] = r
			mu.Lock()
			done++
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "[%s %d/%d] %s\n", cfg.Pair, done, len(scs), line(r))
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}

// newFinding is the first disagreement of its kind, shrunk from its seed
// and replayed unless cfg.NoShrink.
func newFinding(ctx context.Context, cfg Config, seed int, r Result) *Finding {
	f := &Finding{Key: r.Key(), First: r, Known: r.Known, Minimal: r}
	f.Minimal.Scenario.Pool = cfg.Pair.Model
	if !cfg.NoShrink {
		f.Minimal = shrink(ctx, cfg, seed, r)
		f.Replays = replay(ctx, cfg, f.Minimal.Scenario)
		f.Known = f.Minimal.Known
		if f.Known == nil {
			f.Known = r.Known
		}
	}
	return f
}

// findingKey groups disagreements: by shape and by the known difference
// that explains them.
func findingKey(r Result) string {
	if r.Known != nil {
		return fmt.Sprintf("model %s, real %s\x00%s", r.Model.Verdict, r.Real.Verdict, r.Known.ID)
	}
	return r.Key()
}

func line(r Result) string {
	switch {
	case r.Err != nil:
		return fmt.Sprintf("ERROR %s: %v", r.Scenario, r.Err)
	case r.Skipped != "":
		return fmt.Sprintf("skipped %s: %s", r.Scenario, r.Skipped)
	case r.Agree:
		return fmt.Sprintf("agree %s: %s", r.Scenario, r.Real)
	case r.Known != nil:
		return fmt.Sprintf("known (%s) %s: model %s, real %s", r.Known.ID, r.Scenario, r.Model, r.Real)
	}
	return fmt.Sprintf("DISAGREE %s: model %s, real %s", r.Scenario, r.Model, r.Real)
}

// replay runs sc cfg.Repeat times on both sides, in parallel, and counts
// each side's verdicts.
func replay(ctx context.Context, cfg Config, sc scenarios.Scenario) map[string]int {
	out := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.Parallel)
	for range cfg.Repeat {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := Compare(ctx, cfg.Pair, sc, cfg.Options)
			mu.Lock()
			defer mu.Unlock()
			if r.Err != nil {
				out["error"]++
				return
			}
			out["model "+r.Model.String()]++
			out["real "+r.Real.String()]++
		}()
	}
	wg.Wait()
	return out
}
