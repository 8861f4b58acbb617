package waitgraph_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolhang/poolhang/waitgraph"
	"github.com/poolhang/poolhang/waitgraph/internal/fixture"
	"github.com/poolhang/poolhang/waitgraph/internal/svgtest"
)

// TestDraw runs the real drawing command on a DOT file and reads back a
// valid SVG that carries the graph's labels, with nothing else left in
// the folder.
func TestDraw(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: drawing builds and runs cmd/poolhang-draw")
	}
	dir := t.TempDir()
	dot, err := fixture.Seed().DOT()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "seed.dot")
	if err := os.WriteFile(f, dot, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := waitgraph.Draw(context.Background(), []string{f}); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "seed.svg"))
	if err != nil {
		t.Fatal(err)
	}
	texts, err := svgtest.Texts(svg)
	if err != nil {
		t.Fatalf("not valid XML: %v", err)
	}
	if all := strings.Join(texts, " "); !strings.Contains(all, "result handler") {
		t.Errorf("the picture lacks the result handler: %q", all)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("the folder holds %d files, want the .dot and the .svg", len(ents))
	}
}

func TestDrawRefusesWhatIsNotDOT(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: drawing builds and runs cmd/poolhang-draw")
	}
	err := waitgraph.Draw(context.Background(), []string{filepath.Join(t.TempDir(), "x.svg")})
	if err == nil || !strings.Contains(err.Error(), "not a .dot file") {
		t.Fatalf("err = %v, want a refusal naming .dot", err)
	}
}
