package waitgraph_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/poolhang/poolhang/waitgraph"
	"github.com/poolhang/poolhang/waitgraph/internal/fixture"
	"github.com/poolhang/poolhang/waitgraph/internal/golden"
	"github.com/poolhang/poolhang/waitgraph/internal/svgtest"
)

func TestMatrixSVG(t *testing.T) {
	a, err := fixture.Matrix().SVG()
	if err != nil {
		t.Fatal(err)
	}
	b, err := fixture.Matrix().SVG()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("matrix SVG differs between two renderings of equal input")
	}
	golden.Check(t, "matrix.svg", a)
	texts, err := svgtest.Texts(a)
	if err != nil {
		t.Fatalf("matrix SVG is not valid XML: %v\n%s", err, a)
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{
		"example matrix", "models", "real pools", "naive", "tracked", "multiprocessing.Pool",
		"segfault @ task-run", "sigkill @ idle-lock-holder", "graph",
		"hang", "raised", "no-answer", "hang-timeout", "n/a", "completed",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("matrix SVG has no text %q; texts: %q", want, texts)
		}
	}
	// Every verdict appears in the legend whether or not a cell has it.
	for _, v := range waitgraph.Verdicts {
		if !strings.Contains(all, string(v)+": ") {
			t.Errorf("legend lacks %q", v)
		}
	}
	for _, want := range []string{
		`href="matrix.md#naive-segfault-task-run"`, `href="graphs/naive-segfault-task-run.svg"`,
		`<title>naive-segfault-task-run: hang</title>`,
	} {
		if !bytes.Contains(a, []byte(want)) {
			t.Errorf("matrix SVG lacks %s", want)
		}
	}
	if n := bytes.Count(a, []byte(`class="picture"`)); n != 2 {
		t.Errorf("matrix SVG has %d picture links; want 2, one per cell with a picture", n)
	}
}

func TestMatrixEscapes(t *testing.T) {
	m := &waitgraph.Matrix{
		Title:   `<"&'>`,
		Columns: []waitgraph.Column{{Name: "a&b"}},
		Rows: []waitgraph.Row{{Label: "x<y", Cells: []waitgraph.Cell{
			{Verdict: waitgraph.Hang, Details: `d.md#a"b`, Picture: "p?x=1&y=2", Tooltip: "<tip>"}}}},
	}
	svg, err := m.SVG()
	if err != nil {
		t.Fatal(err)
	}
	texts, err := svgtest.Texts(svg)
	if err != nil {
		t.Fatalf("not valid XML: %v\n%s", err, svg)
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{`<"&'>`, "a&b", "x<y"} {
		if !strings.Contains(all, want) {
			t.Errorf("texts %q lack %q", texts, want)
		}
	}
	if bytes.Contains(svg, []byte(`class="group"`)) {
		t.Error("group headings drawn for columns without groups")
	}
}

func TestMatrixValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *waitgraph.Matrix)
		want   string
	}{
		{"no columns", func(m *waitgraph.Matrix) { m.Columns = nil }, "0 columns"},
		{"no rows", func(m *waitgraph.Matrix) { m.Rows = nil }, "0 rows"},
		{"unnamed column", func(m *waitgraph.Matrix) { m.Columns[1].Name = "" }, "column 1 has no name"},
		{"unlabelled row", func(m *waitgraph.Matrix) { m.Rows[0].Label = "" }, "row 0 has no label"},
		{"short row", func(m *waitgraph.Matrix) { m.Rows[1].Cells = m.Rows[1].Cells[:2] }, "has 2 cells; want one per column (3)"},
		{"unknown verdict", func(m *waitgraph.Matrix) { m.Rows[0].Cells[1].Verdict = "hung" },
			`verdict "hung"; want one of completed, raised, hang, hang-timeout, no-answer, parent-exited, wrong-value, orphans, workers-exited, n/a`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture.Matrix()
			tt.change(m)
			_, err := m.SVG()
			if err == nil || !errors.Is(err, waitgraph.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SVG error = %v; want an ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

func BenchmarkMatrixSVG(b *testing.B) {
	m := fixture.Matrix()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.SVG(); err != nil {
			b.Fatal(err)
		}
	}
}
