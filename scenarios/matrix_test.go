package scenarios_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/scenarios"
)

func runMatrix(t *testing.T, dir string) scenarios.Matrix {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m, g, err := scenarios.RunMatrix(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As go run ./cmd/poolhang matrix does: the real columns are the
	// committed ones (--real reruns them).
	r, err := scenarios.ReadRealFile(filepath.Join("..", "results"))
	if err != nil {
		t.Fatal(err)
	}
	m = m.WithReal(r)
	if err := scenarios.Write(ctx, dir, m, g); err != nil {
		t.Fatal(err)
	}
	return m
}

// Regenerating the matrix gives what results/ has: every cell's verdict,
// errors, causes and job counts (Matrix.Diff), and, on a quiet machine,
// matrix.json, matrix.md, matrix.svg and every picture byte for byte;
// only generated.json (when, where, how long) differs.
func TestRegeneratingChangesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole matrix; skipped with -short")
	}
	dir := t.TempDir()
	m := runMatrix(t, dir)
	names := []string{scenarios.MatrixJSON, scenarios.MatrixMarkdown, scenarios.MatrixSVG, scenarios.SeedGraph}
	for _, c := range m.Cells {
		cell := scenarios.Cell{Pool: pools.Strategy(c.Pool), Kind: c.Fault, Phase: faults.Phase(c.Phase), Section: c.Section}
		if why := scenarios.GraphRace(cell); why != "" && c.Graph != "" {
			t.Logf("%s: not compared, its picture can differ from run to run: %s", c.Graph, why)
			continue
		}
		if c.Graph != "" {
			names = append(names, c.Graph)
		}
	}
	if len(names) < 20 {
		t.Fatalf("only %d files to compare; the matrix has hang cells with graphs", len(names))
	}
	committed := committedMatrix(t)
	if diff := committed.Diff(m); len(diff) > 0 {
		t.Errorf("results/ differs from a regeneration (go run ./cmd/poolhang matrix) in what a reviewer cites:\n%s", strings.Join(diff, "\n"))
	}
	// With the same verdicts, errors, causes and counts, a file can still
	// differ in a diagnosis's words or a picture: the final state of a
	// race the model keeps between workers not on the hang's path (which
	// of two workers reached a lock first), which the load of go test
	// ./... on 2 cores sometimes tips. Those are logged, not failed on.
	for _, name := range names {
		x, err := os.ReadFile(filepath.Join("..", "results", name))
		if err != nil {
			t.Fatalf("%v: regenerate results/ with go run ./cmd/poolhang matrix", err)
		}
		y, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(x) != string(y) {
			t.Logf("%s: the same cells, another final state in its words or picture: %s", name, firstDiff(string(x), string(y)))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, scenarios.GenerationJSON)); err != nil {
		t.Error(err)
	}
}

func firstDiff(x, y string) string {
	xs, ys := strings.Split(x, "\n"), strings.Split(y, "\n")
	for i := range min(len(xs), len(ys)) {
		if xs[i] != ys[i] {
			return "first differing line:\n- " + xs[i] + "\n+ " + ys[i]
		}
	}
	return "one is a prefix of the other"
}

// changedLines lists the lines of y that x lacks, by position.
func changedLines(x, y string) []string {
	xs, ys := strings.Split(x, "\n"), strings.Split(y, "\n")
	var out []string
	for i := range max(len(xs), len(ys)) {
		if i >= len(xs) || i >= len(ys) || xs[i] != ys[i] {
			if i < len(ys) {
				out = append(out, ys[i])
			}
		}
	}
	return out
}

// A deliberate change to one expectation shows as a change of that cell
// alone: one line of matrix.json, one of matrix.md, and Diff names only
// that cell.
func TestOneExpectationChangedIsOneCellsDiff(t *testing.T) {
	var m scenarios.Matrix
	m.Command = scenarios.MatrixCommand
	for _, c := range scenarios.Cells() {
		e, err := scenarios.Expect(c)
		if err != nil {
			t.Fatal(err)
		}
		// An outcome as the expectation argues it, so no process runs.
		o := scenarios.Outcome{Scenario: c.Scenario(), Verdict: e.Verdict, Summary: string(e.Verdict)}
		m.Cells = append(m.Cells, scenarios.NewMatrixCell(c, o))
	}
	changed := slices.Clone(m.Cells)
	i := len(changed) / 2
	changed[i].Reason += ", and one more reason"
	n := scenarios.Matrix{Command: m.Command, Cells: changed}
	cell := changed[i].Cell().String()

	if d := m.Diff(n); len(d) != 1 || !strings.HasPrefix(d[0], cell+": reason") {
		t.Errorf("Diff = %q, want one line about %s's reason", d, cell)
	}
	ja, _ := m.JSON()
	jb, _ := n.JSON()
	if l := changedLines(string(ja), string(jb)); len(l) != 1 || !strings.Contains(l[0], "one more reason") {
		t.Errorf("matrix.json: changed lines %q, want the one reason line", l)
	}
	if l := changedLines(m.Markdown(), n.Markdown()); len(l) != 1 || !strings.Contains(l[0], "one more reason") {
		t.Errorf("matrix.md: changed lines %q, want the one Why line", l)
	}
	if d := m.Diff(m); d != nil {
		t.Errorf("a matrix differs from itself: %q", d)
	}
}
