package scenarios_test

import (
	"context"
	"slices"
	"testing"
	"time"

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
