package waitgraph_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/poolhang/poolhang/waitgraph"
	"github.com/poolhang/poolhang/waitgraph/internal/fixture"
)

func TestValidate(t *testing.T) {
	ok := func() *waitgraph.Graph { return fixture.Seed() }
	tests := []struct {
		name   string
		change func(g *waitgraph.Graph)
		want   string // "" for valid
	}{
		{"seed", func(*waitgraph.Graph) {}, ""},
		{"no title", func(g *waitgraph.Graph) { g.Title = "" }, "no title"},
		{"no parties", func(g *waitgraph.Graph) { g.Nodes, g.Edges = nil, nil }, "no parties"},
		{"empty id", func(g *waitgraph.Graph) { g.Nodes[1].ID = "" }, "party 1 has an empty ID"},
		{"duplicate id", func(g *waitgraph.Graph) { g.Nodes[1].ID = "caller" }, `ID "caller" is used twice`},
		{"bad kind", func(g *waitgraph.Graph) { g.Nodes[0].Kind = 9 }, "kind 9; want Caller, Thread, Worker or External"},
		{"bad state", func(g *waitgraph.Graph) { g.Nodes[0].State = -1 }, "state -1; want Blocked"},
		{"bad pid", func(g *waitgraph.Graph) { g.Nodes[2].PID = -4 }, "pid -4"},
		{"bad provenance", func(g *waitgraph.Graph) { g.Provenance = 7 }, "provenance 7; want Proven or Observed"},
		{"unknown waiter", func(g *waitgraph.Graph) { g.Edges[0].From = "nobody" }, `waiter "nobody" is not a party`},
		{"unknown releaser", func(g *waitgraph.Graph) { g.Edges[2].To = "worker 1" }, `releaser "worker 1" is not a party`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := ok()
			tt.change(g)
			err := g.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, waitgraph.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v; want an ErrInvalid containing %q", err, tt.want)
			}
			if _, derr := g.DOT(); derr == nil {
				t.Fatalf("DOT accepted what Validate rejects")
			}
		})
	}
	var nilGraph *waitgraph.Graph
	if err := nilGraph.Validate(); !errors.Is(err, waitgraph.ErrInvalid) {
		t.Fatalf("nil graph: Validate = %v", err)
	}
}

func TestDOT(t *testing.T) {
	g := fixture.Seed()
	a, err := g.DOT()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := fixture.Seed().DOT()
	if !bytes.Equal(a, b) {
		t.Fatal("DOT differs between two calls on equal graphs")
	}
	for _, want := range []string{
		`"worker 4242" [`, "zombie &lt;defunct&gt;", "pid 4242", "holds <B>job 2</B>",
		"nobody can replace it", "penwidth=3", "subgraph cluster_stuck",
		`"caller" -> "result-handler"`, "job 2's result",
	} {
		if !bytes.Contains(a, []byte(want)) {
			t.Errorf("DOT lacks %q:\n%s", want, a)
		}
	}
	if bytes.Contains(a, []byte("dashed")) {
		t.Error("a proven graph is drawn dashed")
	}
	obs, err := fixture.Observed().DOT()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(obs, []byte(`edge [style="dashed"`)) || !bytes.Contains(obs, []byte("observed from evidence, not proven")) {
		t.Errorf("an observed graph is not dashed and marked observed:\n%s", obs)
	}
}

func TestDOTEscapes(t *testing.T) {
	g := &waitgraph.Graph{
		Title: `a "quoted" <title> & more`,
		Nodes: []waitgraph.Node{
			{ID: `we"ird\id`, Label: "<b>not bold</b>", Doing: "x & y"},
			{ID: "other", Kind: waitgraph.External},
		},
		Edges: []waitgraph.Edge{{From: `we"ird\id`, To: "other", On: `"quotes" & <angles>`}},
	}
	dot, err := g.DOT()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"we\"ird\\id"`, "&lt;b&gt;not bold&lt;/b&gt;", "&quot;quotes&quot; &amp; &lt;angles&gt;", "x &amp; y"} {
		if !bytes.Contains(dot, []byte(want)) {
			t.Errorf("DOT lacks %q:\n%s", want, dot)
		}
	}
}

func TestNoPIDUnlessGiven(t *testing.T) {
	g := fixture.Seed()
	for i := range g.Nodes {
		g.Nodes[i].PID = 0
	}
	dot, err := g.DOT()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(dot, []byte("pid ")) {
		t.Errorf("DOT shows a pid none was given:\n%s", dot)
	}
}
