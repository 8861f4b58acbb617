// Command poolhang-draw lays out wait-for graphs written in DOT and writes
// each as SVG beside it (a.dot -> a.svg), with Graphviz run in-process.
//
// It is a command of its own because linking Graphviz (through
// waitgraph/layout) costs every process of a binary a WebAssembly
// compilation at start, and poolhang's own binary re-executes itself as
// every worker. poolhang runs this command through waitgraph.Draw.
//
//	poolhang-draw FILE.dot...
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/poolhang/poolhang/waitgraph/layout"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:])
	layout.Cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "poolhang-draw:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, files []string) error {
	if len(files) == 0 {
		return fmt.Errorf("usage: poolhang-draw FILE.dot... (each is written as FILE.svg)")
	}
	for _, f := range files {
		if filepath.Ext(f) != ".dot" {
			return fmt.Errorf("%q is not a .dot file (want FILE.dot; it is written as FILE.svg)", f)
		}
	}
	for _, f := range files {
		dot, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		svg, err := layout.Render(ctx, dot)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := os.WriteFile(strings.TrimSuffix(f, ".dot")+".svg", svg, 0o644); err != nil {
			return err
		}
	}
	return nil
}
