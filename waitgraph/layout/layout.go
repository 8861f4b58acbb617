// Package layout lays out a waitgraph.Graph with Graphviz's dot and
// writes it as SVG.
//
// Graphviz runs in-process, compiled to WebAssembly and run by wazero
// (github.com/goccy/go-graphviz), so it needs neither cgo nor a Graphviz
// install. The price is paid by every process of a binary that links this
// package, at start, whether it draws or not: the library's init compiles
// the WebAssembly module (about 0.4 s, then about 20 ms and 20 MB per
// process with its cache). Keep it out of binaries that re-execute
// themselves as workers, or pay that per worker.
//
// Graphviz caches the compiled module under $TMPDIR/go-graphviz. A process
// that links this package gets a private TMPDIR before that (internal/privtmp),
// and must call Cleanup before it exits to leave no file behind.
package layout

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/goccy/go-graphviz"

	"github.com/poolhang/poolhang/waitgraph/layout/internal/privtmp" // initialised before go-graphviz: see its doc

	"github.com/poolhang/poolhang/waitgraph"
)

// mu serialises Graphviz: its WebAssembly instance is one per process,
// and Graphviz's C code keeps global state.
var mu sync.Mutex

// Cleanup removes the process's private TMPDIR with Graphviz's cache in
// it. Call it once, when the process is done drawing.
func Cleanup() { privtmp.Cleanup() }

// SVG lays out g and returns it as an SVG document. The same g gives the
// same bytes.
func SVG(ctx context.Context, g *waitgraph.Graph) ([]byte, error) {
	dot, err := g.DOT()
	if err != nil {
		return nil, err
	}
	return Render(ctx, dot)
}

// Render lays out a graph written in DOT (as Graph.DOT writes it) and
// returns it as an SVG document.
func Render(ctx context.Context, dot []byte) (out []byte, err error) {
	mu.Lock()
	defer mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	gv, err := graphviz.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("layout: starting graphviz: %w", err)
	}
	defer func() {
		if cerr := gv.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("layout: closing graphviz: %w", cerr)
		}
	}()
	graph, err := graphviz.ParseBytes(dot)
	if err != nil {
		return nil, fmt.Errorf("layout: graphviz rejected the DOT: %w", err)
	}
	defer func() {
		if cerr := graph.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("layout: closing graph: %w", cerr)
		}
	}()
	var buf bytes.Buffer
	if err := gv.Render(ctx, graph, graphviz.SVG, &buf); err != nil {
		return nil, fmt.Errorf("layout: rendering: %w", err)
	}
	return buf.Bytes(), nil
}
