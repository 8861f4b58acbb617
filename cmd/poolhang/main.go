// Command poolhang runs fault scenarios on real worker pools and prints
// their verdicts.
//
//	poolhang run 'pool=naive workers=2 jobs=6 wait=map fault=segfault@task-run:2'
//	poolhang replay FILE
//	poolhang matrix [--real]
//	poolhang run 'pool=py:mp.Pool workers=2 jobs=6 wait=map fault=sigkill@task-run:2'
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
	realpools.MaybeServeReaper()
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
		if sc.Real() {
			if graph != "" {
				fmt.Fprintf(os.Stderr, "poolhang run: --graph: no graph for %s: only a model's proven hang has a wait-for graph so far\n", sc.Pool)
			}
			if code := reportReal(sc); code != 0 {
				return code
			}
			continue
		}
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

// reportReal runs a scenario on its real Python pool and prints the
// outcome with its evidence, pids included (to be checked against ps).
func reportReal(sc scenarios.Scenario) int {
	fmt.Fprintf(os.Stderr, "poolhang: running %s on the real pool (a no-answer takes the stall limit, at least %s)...\n", sc.Pool, realpools.MinStall)
	o, err := scenarios.RunReal(context.Background(), sc, realpools.Options{})
	switch {
	case errors.Is(err, realpools.ErrNotApplicable):
		fmt.Printf("%s\n  n/a: %s\n", sc, strings.TrimPrefix(err.Error(), realpools.ErrNotApplicable.Error()+": "))
		return 0
	case err != nil:
		fmt.Fprintln(os.Stderr, "poolhang:", err)
		return 1
	}
	fmt.Printf("%s\n  verdict: %s\n", sc, o.Summary())
	if o.Verdict == realpools.NoAnswer {
		fmt.Printf("  stall limit %.1f s (5 x the pool's fault-free run, at least %s) + grace %.1f s%s\n", o.StallS, realpools.MinStall, o.GraceS, graceWhy(o))
	}
	if o.CallError != nil {
		fmt.Printf("  the call raised %s: %s\n", o.CallError.Class, firstLine(o.CallError.Message))
	}
	for _, s := range o.Struck {
		fmt.Printf("  struck: %s at %s of job %d in pid %d\n", s.Kind, s.Phase, s.Job, s.PID)
	}
	if is := o.IdleStrike; is != nil {
		fmt.Printf("  struck: %s at %s in idle worker %d (workers then: %v)\n", is.Kind, is.Phase, is.PID, is.Workers)
	}
	for _, l := range scenarios.RealEvidence(o, sc.Workers, true)[1:] {
		fmt.Println("  " + l)
	}
	if o.Verdict == realpools.ParentExited && o.Stderr != "" {
		fmt.Printf("  the Python parent's last words:\n    %s\n", strings.ReplaceAll(o.Stderr, "\n", "\n    "))
	}
	return 0
}

func graceWhy(o realpools.Outcome) string {
	if o.GraceWhy == "" {
		return ""
	}
	return " (" + o.GraceWhy + ")"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
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
	real := fs.Bool("real", false, "also run every cell on the real Python pools (about a minute) and write real.json and real-generated.json")
	runs := fs.Int("runs", scenarios.RealRuns, "with --real: how many times to run each real cell, to see which differ from run to run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "poolhang matrix: unknown argument %s (flags: -out DIR, --real, -runs N)\n", quoteShort(fs.Arg(0)))
		return 2
	}
	if *runs < 1 || *runs > 10 {
		fmt.Fprintf(os.Stderr, "poolhang matrix: -runs %d, allowed 1 to 10\n", *runs)
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
	rm, code := realColumns(*out, *real, *runs, m)
	if code != 0 {
		return code
	}
	m = m.WithReal(rm)
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

// realColumns runs the real pools' cells (--real) and writes real.json and
// real-generated.json, or reads the committed real.json, so that the
// matrix keeps its real columns.
func realColumns(out string, run bool, runs int, m scenarios.Matrix) (scenarios.RealMatrix, int) {
	if !run {
		rm, err := scenarios.ReadRealFile(out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "poolhang matrix:", err)
			return rm, 1
		}
		if len(rm.Cells) > 0 {
			fmt.Fprintf(os.Stderr, "the real pools' columns are from %s/%s; %s reruns them\n", out, scenarios.RealJSON, scenarios.RealCommand)
		}
		return rm, 0
	}
	start := time.Now()
	rm, rg, err := scenarios.RunRealMatrix(context.Background(), runs, func(done, total int, c scenarios.RealCell, took time.Duration) {
		fmt.Fprintf(os.Stderr, "[%3d/%d] %-22s %-20s @ %-17s %-13s %5.1fs %s\n", done, total, c.Pool, c.Fault, c.Phase, c.Verdict, took.Seconds(), c.Error)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "poolhang matrix --real:", err)
		return rm, 1
	}
	for _, miss := range rm.Missing {
		fmt.Fprintln(os.Stderr, "poolhang matrix --real: SKIPPED", miss)
	}
	if err := scenarios.WriteReal(context.Background(), out, rm, rg); err != nil {
		fmt.Fprintln(os.Stderr, "poolhang matrix --real:", err)
		return rm, 1
	}
	fmt.Fprintf(os.Stderr, "%d real cells, each run %d times, in %s; wrote %s and %s in %s\n", len(rm.Cells), runs,
		time.Since(start).Round(100*time.Millisecond), scenarios.RealJSON, scenarios.RealGenerationJSON, out)
	code := 0
	for _, p := range scenarios.Pairs() {
		rep := scenarios.Compare(m, rm, p)
		fmt.Println(rep.Line())
		for _, d := range rep.Disagreements {
			if d.Explanation == "" {
				fmt.Fprintf(os.Stderr, "poolhang matrix --real: %s vs %s differ on %s with no explanation (%s): explain it in scenarios/agree.go or fix the model\n", p.Model, p.Real, d.Fault, d.Differ)
				code = 1
			}
		}
		for _, f := range rep.Stale {
			fmt.Fprintf(os.Stderr, "poolhang matrix --real: the explanation of %s vs %s at %s no longer applies: they agree\n", p.Model, p.Real, f)
			code = 1
		}
	}
	return rm, code
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
  poolhang matrix [--real] [-runs N] [-out DIR]
                            run the result matrix and write results/; --real
                            also runs every cell on the real Python pools
                            (py:mp.Pool, py:ProcessPoolExecutor, py:billiard,
                            py:loky, py:pebble), N times each (default 3)

SCENARIO is text like: pool=naive workers=2 jobs=6 wait=map fault=segfault@task-run:2
or, on a real Python pool: pool=py:mp.Pool workers=2 jobs=6 wait=map fault=sigkill@task-run:2
`)
}
