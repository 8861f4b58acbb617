package realpools_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/waitgraph"
)

// The observed graph of mp.Pool's seed-like hang: job 2's worker is
// SIGKILLed in the task; Pool.map waits for the result handler, which
// reads the result pipe (multiprocessing/pool.py _handle_results, 3.11),
// and job 2 can only come from the dead worker, which is replaced (the
// worker handler) but whose job nobody re-runs.
func TestWaitGraphOfANoAnswer(t *testing.T) {
	t.Parallel()
	needPython(t)
	o, err := realpools.Run(context.Background(), "pool=py:mp.Pool workers=2 jobs=6 wait=map fault=sigkill@task-run:2", realpools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Verdict != realpools.NoAnswer {
		t.Fatalf("verdict %s, want no-answer: %s", o.Verdict, o.Summary())
	}
	g := o.WaitGraph(false)
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if g.Provenance != waitgraph.Observed || g.Evidence == "" {
		t.Errorf("provenance %s, evidence %q: want observed, with its evidence", g.Provenance, g.Evidence)
	}
	dot, err := g.DOT()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", dot)
	has := func(from, to string) bool {
		for _, e := range g.Edges {
			if e.From == from && e.To == to && strings.HasSuffix(e.On, "(observed)") {
				return true
			}
		}
		return false
	}
	killer := "the worker that took job 2"
	var dead *waitgraph.Node
	for i, n := range g.Nodes {
		if n.ID == killer {
			dead = &g.Nodes[i]
		}
	}
	switch {
	case dead == nil:
		t.Fatalf("no node %q in %+v", killer, g.Nodes)
	case !dead.State.Dead() || !dead.Irreplaceable || dead.Job != "job 2" || !strings.Contains(dead.Doing, "SIGKILL in task-run"):
		t.Errorf("the dead worker: %+v", *dead)
	case !has("caller", "result handler"), !has("caller", killer), !has("result handler", killer):
		t.Errorf("missing the caller's or the result handler's waits: %+v", g.Edges)
	case !strings.Contains(g.Caption, "job 2 is lost"):
		t.Errorf("caption %q does not name the lost job", g.Caption)
	}
	for _, n := range g.Nodes {
		if n.ID == "result handler" && !strings.Contains(n.Doing, "read(") {
			t.Errorf("the result handler is %q, want blocked in a read", n.Doing)
		}
	}
	// No pid in the committed form; with pids, the workers' pids.
	if pid := regexp.MustCompile(`\b` + itoa(o.Workers[0].PID) + `\b`); pid.Match(dot) {
		t.Errorf("a pid in the graph without pids:\n%s", dot)
	}
	withPids, _ := o.WaitGraph(true).DOT()
	if !strings.Contains(string(withPids), itoa(o.Workers[0].PID)) {
		t.Errorf("no pid in the graph with pids")
	}
	if out := os.Getenv("REALPOOLS_GRAPH_OUT"); out != "" {
		f := filepath.Join(out, "mp.Pool_sigkill_task-run.dot")
		if err := os.WriteFile(f, dot, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := waitgraph.Draw(context.Background(), []string{f}); err != nil {
			t.Fatal(err)
		}
	}
}

func needPython(t *testing.T) {
	t.Helper()
	if _, err := realpools.FindPython(); err != nil {
		t.Skipf("SKIP real pools: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
