package scenarios_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/poolhang/poolhang/scenarios"
	"github.com/poolhang/poolhang/scenarios/scenariotest"
	"github.com/poolhang/poolhang/waitgraph"
)

// TestSeedWaitGraph draws the seed's hang (2.6, a worker segfaults holding
// job 2, the caller in join) and checks that the picture says what the
// seed's author found with gdb, ps and lsof: the caller and the result
// handler blocked for good, the handler waiting on the result pipe whose
// writers are dead, every worker a zombie, and the job the dead worker took.
func TestSeedWaitGraph(t *testing.T) {
	sc, err := scenarios.Parse("pool=naive workers=2 jobs=6 wait=join fault=segfault@task-run:2")
	if err != nil {
		t.Fatal(err)
	}
	o, err := scenariotest.Run(sc)
	if err != nil {
		t.Fatal(err)
	}
	if o.Verdict != scenarios.Hang {
		t.Fatalf("verdict %s, want hang: %s", o.Verdict, o.Diagnosis)
	}
	g := o.WaitGraph(false)
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]waitgraph.Node{}
	for _, n := range g.Nodes {
		nodes[n.ID] = n
	}
	lost, ok := nodes["the worker that took job 2"]
	if !ok || lost.State != waitgraph.Zombie || !lost.Irreplaceable || lost.Job != "job 2" {
		t.Errorf("the dead worker: %+v (present %v); want a zombie holding job 2, highlighted", lost, ok)
	}
	zombies := 0
	for _, n := range g.Nodes {
		if n.Kind == waitgraph.Worker && n.State == waitgraph.Zombie {
			zombies++
		}
		if n.PID != 0 {
			t.Errorf("%s shows pid %d in a committed picture", n.ID, n.PID)
		}
	}
	if zombies != 2 {
		t.Errorf("%d zombie workers, want both <defunct>", zombies)
	}
	for _, id := range []string{"caller", "result-handler"} {
		if n := nodes[id]; !n.Stuck || n.State != waitgraph.Blocked {
			t.Errorf("%s: %+v; want blocked and in the stuck set", id, n)
		}
	}
	has := func(from, to, on string) bool {
		for _, e := range g.Edges {
			if e.From == from && e.To == to && strings.Contains(e.On, on) {
				return true
			}
		}
		return false
	}
	if !has("result-handler", "the worker that took job 2", "result pipe") {
		t.Errorf("no edge from the result handler to the dead worker on the result pipe: %+v", g.Edges)
	}
	if !has("caller", "result-handler", "") {
		t.Errorf("no edge from the caller (in join) to the result handler: %+v", g.Edges)
	}
	if !strings.Contains(g.Caption, "job 2 is lost") {
		t.Errorf("caption %q does not name the lost job", g.Caption)
	}
	// No pid of this run appears anywhere in the committed form.
	dot, err := g.DOT()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range o.Workers {
		if regexp.MustCompile(`\b` + strconv.Itoa(w.PID) + `\b`).Match(dot) {
			t.Errorf("pid %d appears in the DOT of a committed picture", w.PID)
		}
	}
	// With pids, as `poolhang run --graph` draws it, each worker shows its own.
	for _, n := range o.WaitGraph(true).Nodes {
		if n.Kind == waitgraph.Worker && n.PID == 0 {
			t.Errorf("%s has no pid in the live picture", n.ID)
		}
	}
}

// An answer has no wait-for graph.
func TestNoGraphForAnAnswer(t *testing.T) {
	sc, err := scenarios.Parse("pool=tracked workers=2 jobs=6 wait=map fault=segfault@task-run:2")
	if err != nil {
		t.Fatal(err)
	}
	o, err := scenariotest.Run(sc)
	if err != nil {
		t.Fatal(err)
	}
	if g := o.WaitGraph(false); g != nil {
		t.Fatalf("verdict %s has a graph: %+v", o.Verdict, g)
	}
}
