package scenarios_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// BenchmarkMatrix runs the whole result matrix (every cell once, as
// `go run ./cmd/poolhang matrix` does) per iteration (target: under 5 s on
// the reference machine). s-per-matrix is the median over the iterations;
// ns/op is the mean.
func BenchmarkMatrix(b *testing.B) {
	want := len(scenarios.Cells())
	var ds []time.Duration
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		t0 := time.Now()
		m, _, err := scenarios.RunMatrix(ctx, nil)
		d := time.Since(t0)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Cells) != want {
			b.Fatalf("matrix has %d cells, want %d", len(m.Cells), want)
		}
		ds = append(ds, d)
	}
	if len(ds) > 0 {
		slices.Sort(ds)
		b.ReportMetric(ds[len(ds)/2].Seconds(), "s-per-matrix")
	}
}

// BenchmarkRealMatrix runs every standard cell of the current catalog
// (result-write included) on every real pool that imports, once, all at
// once, and records them as poolhang matrix --real does (target: at most
// 60 s on 2 cores). s/matrix is the wall time of one whole matrix.
func BenchmarkRealMatrix(b *testing.B) {
	if _, err := realpools.FindPython(); err != nil {
		b.Skipf("SKIP real pools: %v", err)
	}
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		start := time.Now()
		r, _, err := scenarios.RunRealMatrix(ctx, 1, nil)
		wall := time.Since(start)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if want := len(scenarios.RealCells(r.Pools())); len(r.Cells) != want || len(r.Pools()) == 0 {
			b.Fatalf("%d real cells on %v, want %d", len(r.Cells), r.Pools(), want)
		}
		if _, ok := r.Cell("py:mp.Pool", "sigkill", faults.ResultWrite); !ok {
			b.Fatal("no result-write cell")
		}
		if len(r.Missing) > 0 {
			b.Logf("SKIP %v", r.Missing)
		}
		b.ReportMetric(wall.Seconds(), "s/matrix")
	}
}
