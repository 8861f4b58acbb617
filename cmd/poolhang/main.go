// Command poolhang runs fault scenarios on real worker pools and prints
// their verdicts.
//
//	poolhang run 'pool=naive workers=2 jobs=6 wait=map fault=segfault@task-run:2'
//	poolhang replay FILE
//	poolhang matrix
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	_ "github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/scenarios"
)

func main() {
	pools.MaybeServeWorker()
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "run":
		if len(args) < 2 {
			fmt.Fprintln(os.Stderr, "poolhang run: want a scenario, as in: poolhang run 'pool=naive workers=2 jobs=6 wait=map fault=segfault@task-run:2'")
			return 2
		}
		sc, err := scenarios.Parse(strings.Join(args[1:], " "))
		if err != nil {
			fmt.Fprintln(os.Stderr, "poolhang:", err)
			return 2
		}
		return report([]scenarios.Scenario{sc})
	case "replay":
		if len(args) != 2 {
			fmt.Fprintln(os.Stderr, "poolhang replay: want one file of scenarios, one per line")
			return 2
		}
		f, err := os.Open(args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "poolhang:", err)
			return 2
		}
		defer f.Close()
		scs, err := scenarios.ReadReplay(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "poolhang: %s: %v\n", args[1], err)
			return 2
		}
		return report(scs)
	}
	usage()
	return 2
}

func report(scs []scenarios.Scenario) int {
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
			fmt.Printf("  worker %d [%s] %s: %s\n", w.PID, w.Proc, state, w.State)
		}
		for _, l := range o.Leftovers {
			fmt.Println("  LEFTOVER:", l)
		}
	}
	return 0
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  poolhang run SCENARIO     run one scenario and print its verdict
  poolhang replay FILE      run every scenario of a replay file
  poolhang matrix           run the result matrix and write results/

SCENARIO is text like: pool=naive workers=2 jobs=6 wait=map fault=segfault@task-run:2
`)
}
