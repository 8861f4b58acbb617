package realpools_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/poolhang/poolhang/realpools"
)

// BenchmarkRealMatrix runs every standard cell on every real pool that
// imports, all at once, and reports the wall time of the whole matrix
// (target: at most 60 s on 2 cores). With REALPOOLS_MATRIX_OUT=FILE it
// writes the verdict table there.
func BenchmarkRealMatrix(b *testing.B) {
	py, err := realpools.FindPython()
	if err != nil {
		b.Skipf("SKIP real pools: %v", err)
	}
	a, err := realpools.Available(context.Background(), realpools.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var names []string
	for _, p := range realpools.Pools() {
		if a.PoolStatus[p.Name].OK {
			names = append(names, p.Name)
		} else {
			b.Logf("SKIP %s: %s; install with %s", p.Name, a.PoolStatus[p.Name].Error, realpools.Install)
		}
	}
	for i := 0; i < b.N; i++ {
		start := time.Now()
		cells, err := realpools.Matrix(context.Background(), realpools.StandardCells(names), realpools.Options{Python: py}, 256, nil)
		wall := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(wall.Seconds(), "s/matrix")
		if out := os.Getenv("REALPOOLS_MATRIX_OUT"); out != "" {
			if err := os.WriteFile(out, []byte(table(a, names, cells, wall)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func table(a realpools.Availability, names []string, cells []realpools.Cell, wall time.Duration) string {
	var s strings.Builder
	fmt.Fprintf(&s, "Real pools, every standard cell (2 workers, 6 jobs, one map, fault on job 2), all at once.\n")
	fmt.Fprintf(&s, "Python %s (%s); ", a.Version, a.Python)
	for _, n := range names {
		fmt.Fprintf(&s, "%s %s; ", n, a.PoolStatus[n].Version)
	}
	fmt.Fprintf(&s, "wall time of the whole matrix: %s\n\n", wall.Round(100*time.Millisecond))
	at := map[string]realpools.Cell{}
	for _, c := range cells {
		at[c.Pool+" "+c.Fault] = c
	}
	fmt.Fprintf(&s, "| fault @ phase |")
	for _, n := range names {
		fmt.Fprintf(&s, " %s |", n)
	}
	fmt.Fprintf(&s, "\n|---|")
	for range names {
		fmt.Fprintf(&s, "---|")
	}
	fmt.Fprintln(&s)
	var notes []string
	for _, kp := range realpools.StandardFaults() {
		f := kp[0] + "@" + kp[1]
		fmt.Fprintf(&s, "| `%s` |", f)
		for _, n := range names {
			c := at[n+" "+f]
			switch {
			case errors.Is(c.Err, realpools.ErrNotApplicable):
				fmt.Fprintf(&s, " n/a |")
				notes = append(notes, fmt.Sprintf("- %s %s: %v", n, f, c.Err))
			case c.Err != nil:
				fmt.Fprintf(&s, " error |")
				notes = append(notes, fmt.Sprintf("- %s %s: error: %v", n, f, c.Err))
			default:
				o := c.Outcome
				cls := ""
				if o.CallError != nil {
					cls = " " + o.CallError.Class[strings.LastIndexByte(o.CallError.Class, '.')+1:]
				}
				fmt.Fprintf(&s, " %s%s %.1fs |", o.Verdict, cls, o.Took().Seconds())
				notes = append(notes, fmt.Sprintf("- %s %s: %s; workers: %v", n, f, o.Summary(), o.Workers))
			}
		}
		fmt.Fprintln(&s)
	}
	fmt.Fprintf(&s, "\nPer cell:\n%s\n", strings.Join(notes, "\n"))
	return s.String()
}
