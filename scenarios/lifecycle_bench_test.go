package scenarios_test

import (
	"testing"
	"time"

	"github.com/poolhang/poolhang/scenarios"
)

// BenchmarkScenarioWithOptions runs 2-worker scenarios with the pool
// options (target: a median wall of at most 10 ms each): a chunked map
// whose workers retire and are replaced, failfast stranding its jobs
// (115634, a proven hang), and respawn's livelock on a failing
// initializer, proven from state.
func BenchmarkScenarioWithOptions(b *testing.B) {
	for _, tc := range []struct {
		name, text string
		want       scenarios.Verdict
	}{
		{"chunks+maxtasks", "pool=respawn workers=2 jobs=6 chunksize=3 maxtasks=1 wait=map", scenarios.Completed},
		{"maxtasks-stranded", "pool=failfast workers=2 jobs=6 maxtasks=2 wait=map", scenarios.Hang},
		{"initializer-livelock", "pool=respawn workers=2 jobs=6 initializer=raise wait=map", scenarios.Livelock},
	} {
		b.Run(tc.name, func(b *testing.B) { benchScenario(b, tc.text, tc.want) })
	}
}

// benchScenario runs one scenario's text per iteration, checks its
// verdict, and reports the median wall time (the 10 ms targets).
func benchScenario(b *testing.B, text string, want scenarios.Verdict) {
	sc, err := scenarios.Parse(text)
	if err != nil {
		b.Fatal(err)
	}
	var ds []time.Duration
	for b.Loop() {
		o := run(b, sc)
		if o.Verdict != want {
			b.Fatalf("%s: verdict %s, want %s", sc, o.Verdict, want)
		}
		ds = append(ds, o.Wall)
	}
	b.ReportMetric(float64(median(ds).Microseconds())/1000, "ms-wall-median")
}
