package layout_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/poolhang/poolhang/waitgraph"
	"github.com/poolhang/poolhang/waitgraph/internal/fixture"
	"github.com/poolhang/poolhang/waitgraph/internal/golden"
	"github.com/poolhang/poolhang/waitgraph/internal/svgtest"
	"github.com/poolhang/poolhang/waitgraph/layout"
)

func TestMain(m *testing.M) {
	code := m.Run()
	layout.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// TestCacheIsPrivate checks the initialisation order that privtmp relies
// on: Graphviz wrote its cache into the private TMPDIR, not into the
// TMPDIR the process was started with.
func TestCacheIsPrivate(t *testing.T) {
	tmp := os.TempDir()
	if !strings.Contains(filepath.Base(tmp), "poolhang-graphviz-") {
		t.Fatalf("TMPDIR is %s, want the private poolhang-graphviz-* folder", tmp)
	}
	if _, err := os.Stat(filepath.Join(tmp, "go-graphviz")); err != nil {
		t.Fatalf("Graphviz's cache is not in the private TMPDIR: %v", err)
	}
}

// render lays g out and checks what every picture must be: valid XML
// with an <svg> root, and the same bytes on a second run.
func render(t *testing.T, g func() *waitgraph.Graph) (svg []byte, text string) {
	t.Helper()
	ctx := context.Background()
	a, err := layout.SVG(ctx, g())
	if err != nil {
		t.Fatal(err)
	}
	b, err := layout.SVG(ctx, g())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two layouts of equal graphs differ")
	}
	texts, err := svgtest.Texts(a)
	if err != nil {
		t.Fatalf("SVG is not valid XML: %v\n%s", err, a)
	}
	return a, strings.Join(texts, " ")
}

// TestSeed draws what the seed's author pieced together with gdb, ps and
// lsof; every fact must be readable in the picture's text.
func TestSeed(t *testing.T) {
	svg, text := render(t, fixture.Seed)
	golden.Check(t, "seed.svg", svg)
	for _, want := range []string{
		"pool=naive workers=2 jobs=6 wait=join fault=segfault@task-run:2",
		"job 2 is lost", "proven from the pool's state",
		"stuck: can never move",
		"caller", "in pool.join()",
		"result handler", "parent thread", "read() on the result pipe",
		"worker 1", "worker process · pid 4242", "zombie <defunct>", "killed by SIGSEGV in task-run", "holds", "job 2", "nobody can replace it",
		"worker 2", "pid 4243",
		"the result pipe: job 2's result", "the result pipe (its last writer)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("seed picture lacks %q; its text: %s", want, text)
		}
	}
	// Graphviz writes each node and edge as a <g> titled with its DOT id.
	for _, want := range []string{"<title>worker 4242</title>", "<title>caller&#45;&gt;result&#45;handler</title>", `stroke="#b91c1c" stroke-width="3"`} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("seed SVG lacks %s", want)
		}
	}
	if bytes.Contains(svg, []byte("stroke-dasharray=\"5,2\"")) {
		t.Error("a proven graph has dashed strokes")
	}
}

func TestObserved(t *testing.T) {
	svg, text := render(t, fixture.Observed)
	golden.Check(t, "observed.svg", svg)
	for _, want := range []string{"observed from evidence, not proven", "py-spy dump", "dead, reaped", "the task queue's read lock held by pid 4242"} {
		if !strings.Contains(text, want) {
			t.Errorf("observed picture lacks %q; its text: %s", want, text)
		}
	}
	if !bytes.Contains(svg, []byte(`stroke-dasharray="5,2"`)) {
		t.Error("an observed graph has no dashed strokes")
	}
}

func TestRejects(t *testing.T) {
	_, err := layout.SVG(context.Background(), &waitgraph.Graph{Title: "x"})
	if !errors.Is(err, waitgraph.ErrInvalid) {
		t.Fatalf("SVG of a graph with no parties: %v; want ErrInvalid", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := layout.SVG(ctx, fixture.Seed()); !errors.Is(err, context.Canceled) {
		t.Fatalf("SVG with a cancelled context: %v", err)
	}
}

// TestConcurrent: Graphviz has one instance per process; callers from
// many goroutines get the same pictures as one caller does.
func TestConcurrent(t *testing.T) {
	want, err := layout.SVG(context.Background(), fixture.Seed())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			got, err := layout.SVG(context.Background(), fixture.Seed())
			if err == nil && !bytes.Equal(got, want) {
				err = errors.New("a concurrent layout differs")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkSVG(b *testing.B) {
	for _, tt := range []struct {
		name string
		g    func() *waitgraph.Graph
	}{{"seed", fixture.Seed}, {"observed", fixture.Observed}} {
		b.Run(tt.name, func(b *testing.B) {
			g := tt.g()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := layout.SVG(context.Background(), g); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
