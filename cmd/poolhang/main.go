// Command poolhang runs fault scenarios on real worker pools and prints
// their verdicts.
//
//	poolhang run 'pool=naive workers=2 jobs=6 wait=map fault=segfault@task-run:2'
//	poolhang replay FILE
//	poolhang matrix
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
	"github.com/poolhang/poolhang/waitgraph"
)

func main() {
	pools.MaybeServeWorker()
	realpools.MaybeServeReaper()
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "run":
		return runOne(args[1:])
	case "matrix":
		return matrix(args[1:])
	case "conform":
		return conform(args[1:])
	case "replay":
		if len(args) != 2 {
			fmt.Fprintln(os.Stderr, "poolhang replay: want one file of scenarios, one per line")
			return 2
		}
		name := quoteShort(args[1]) // escapes control characters
		f, err := os.Open(args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "poolhang replay: cannot open %s: %v\n", name, pathErr(err))
			return 2
		}
		defer f.Close()
		scs, err := scenarios.ReadReplay(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "poolhang replay: %s: %v\n", name, err)
			return 2
		}
		if len(scs) == 0 {
			fmt.Fprintf(os.Stderr, "poolhang replay: %s holds no scenario (want one per line; blank lines and # comments are skipped)\n", name)
			return 2
		}
		return report(scs, "")
	}
	usage()
	return 2
}

// runOne runs one scenario: poolhang run [--graph FILE.svg] SCENARIO.
func runOne(args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	graph := fs.String("graph", "", "write the hang's wait-for graph to this .svg file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "poolhang run: want a scenario, as in: poolhang run [--graph FILE.svg] 'pool=naive workers=2 jobs=6 wait=map fault=segfault@task-run:2'")
		return 2
	}
	if *graph != "" && filepath.Ext(*graph) != ".svg" {
		fmt.Fprintf(os.Stderr, "poolhang run: --graph %s: want a file name ending in .svg\n", quoteShort(*graph))
		return 2
	}
	sc, err := scenarios.Parse(strings.Join(fs.Args(), " "))
	if err != nil {
		fmt.Fprintln(os.Stderr, "poolhang:", err)
		return 2
	}
	if *graph != "" {
		if err := checkOut(filepath.Dir(*graph)); err != nil {
			fmt.Fprintln(os.Stderr, "poolhang run: --graph:", err)
			return 2
		}
	}
	return report([]scenarios.Scenario{sc}, *graph)
}

// report runs each scenario and prints its verdict; with graph set, it
// draws the (one) scenario's wait-for graph there, pids included, or says
// why there is none.
func report(scs []scenarios.Scenario, graph string) int {
	for _, sc := range scs {
		o, err := scenarios.Run(context.Background(), sc)
		if err != nil {
			fmt.Fprintln(os.Stderr, "poolhang:", err)
			return 1
		}

		ok, failed, unres := o.Count()
		fmt.Printf("%s\n  verdict: %s (jobs: %d ok, %d error, %d unresolved; wall %s, verdict %s after the last progress)\n  %s\n",
			sc, o.Verdict, ok, failed, unres, o.Wall.Round(10_000), o.ToVerdict.Round(10_000), o.Diagnosis)
		for _, w := range o.Workers {
			state := "alive"
			if !w.Alive {
				state = w.Exit
			}
			fmt.Printf("  w%d pid %d [%s] %s: %s\n", w.Slot, w.PID, w.Proc, state, w.State)
		}
		for _, l := range o.Leftovers {
			fmt.Println("  LEFTOVER:", l)
		}
		if graph != "" {
			if err := drawGraph(o, graph); err != nil {
				fmt.Fprintln(os.Stderr, "poolhang run: --graph:", err)
				return 1
			}
		}
	}
	return 0
}

func drawGraph(o scenarios.Outcome, file string) error {
	g := o.WaitGraph(true)
	if g == nil {
		fmt.Fprintf(os.Stderr, "poolhang run: no graph written: the verdict is %s, and only a proven hang has a wait-for graph\n", o.Verdict)
		return nil
	}
	dot, err := g.DOT()
	if err != nil {
		return err
	}
	f := strings.TrimSuffix(file, ".svg") + ".dot"
	if err := os.WriteFile(f, dot, 0o644); err != nil {
		return err
	}
	defer os.Remove(f)
	if err := waitgraph.Draw(context.Background(), []string{f}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "poolhang run: wrote the wait-for graph to %s\n", quoteShort(file))
	return nil
}

// matrix runs every cell, shows progress on stderr, prints the table and
// writes results/matrix.md, results/matrix.json and results/generated.json.
func matrix(args []string) int {
	fs := flag.NewFlagSet("matrix", flag.ContinueOnError)
	out := fs.String("out", "results", "directory for matrix.md, matrix.json and generated.json")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "poolhang matrix: unknown argument %s (the only flag is -out DIR)\n", quoteShort(fs.Arg(0)))
		return 2
	}
	if err := checkOut(*out); err != nil {
		fmt.Fprintln(os.Stderr, "poolhang matrix:", err)
		return 2
	}
	start := time.Now()
	unexpected := 0
	m, g, err := scenarios.RunMatrix(context.Background(), func(i, n int, mc scenarios.MatrixCell, t scenarios.CellTiming) {
		mark := ""
		if mc.Expected != "" && mc.Expected != mc.Verdict {
			mark = "  UNEXPECTED, expected " + mc.Expected
			unexpected++
		}
		fmt.Fprintf(os.Stderr, "[%2d/%d] %-9s %-20s @ %-17s %-10s %6.2fms%s\n", i, n, mc.Pool, mc.Fault, mc.Phase, mc.Verdict, t.WallMS, mark)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "poolhang matrix:", err)
		return 1
	}
	printTable(m)
	if err := scenarios.Write(context.Background(), *out, m, g); err != nil {
		fmt.Fprintln(os.Stderr, "poolhang matrix:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "%d cells in %s; wrote %s, %s, %s, %s and %s/ in %s\n", len(m.Cells), time.Since(start).Round(time.Millisecond),
		scenarios.MatrixMarkdown, scenarios.MatrixJSON, scenarios.MatrixSVG, scenarios.GenerationJSON, scenarios.GraphsDir, *out)
	if unexpected > 0 {
		fmt.Fprintf(os.Stderr, "poolhang matrix: %d cells differ from their expectation\n", unexpected)
		return 1
	}
	return 0
}

// checkOut makes sure, before the run, that the results can be written
// to dir.
func checkOut(dir string) error {
	if dir == "" {
		return errors.New("-out is empty: want a directory for matrix.md and matrix.json")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-out %s: %v", quoteShort(dir), pathErr(err))
	}
	f, err := os.CreateTemp(dir, ".poolhang-probe-*")
	if err != nil {
		return fmt.Errorf("-out %s is not writable: %v", quoteShort(dir), pathErr(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// pathErr drops the path from err, which the caller quotes itself.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// quoteShort quotes s, control characters escaped, cut to a prefix.
func quoteShort(s string) string {
	const n = 64
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:n]) + "..."
}

// printTable prints fault@phase rows against strategy columns.
func printTable(m scenarios.Matrix) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "FAULT @ PHASE")
	for _, s := range pools.Strategies() {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(string(s)))
	}
	fmt.Fprintln(tw)
	for _, k := range faults.Kinds() {
		for _, ph := range k.Meaningful() {
			fmt.Fprintf(tw, "%s @ %s", k.Name, ph)
			for _, s := range pools.Strategies() {
				v := "n/a"
				if mc, ok := m.Cell(scenarios.Cell{Pool: s, Kind: k.Name, Phase: ph}); ok {
					v = mc.Verdict
				}
				fmt.Fprintf(tw, "\t%s", v)
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  poolhang run [--graph FILE.svg] SCENARIO
                            run one scenario and print its verdict; --graph
                            draws a hang's wait-for graph
  poolhang replay FILE      run every scenario of a replay file
  poolhang matrix           run the result matrix and write results/

SCENARIO is text like: pool=naive workers=2 jobs=6 wait=map fault=segfault@task-run:2
`)
}
