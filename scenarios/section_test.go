package scenarios

import (
	"strings"
	"testing"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

func TestSectionCells(t *testing.T) {
	s := Section{
		Name: "probe", Title: "probe", Rows: []Row{{"sigkill", faults.TaskRun}, {"raise", faults.IdleLockHolder}},
		Shape: func(sc Scenario) Scenario { sc.Wait = WaitGet; return sc },
		NA: func(p pools.Strategy) string {
			if p == pools.Tracked {
				return "no such call"
			}
			return ""
		},
	}
	for _, p := range pools.Strategies() {
		expectSection("probe", p, map[When]Expectation{})
	}
	defer delete(sectionExpectations, "probe")
	cells := sectionCells(s)
	if len(cells) == 0 {
		t.Fatal("no cells")
	}
	for _, c := range cells {
		if c.Pool == pools.Tracked {
			t.Errorf("%s: a strategy the section says n/a for has a cell", c)
		}
		if c.Kind == "raise" && c.Phase == faults.IdleLockHolder {
			t.Errorf("%s: a row the catalog rejects has a cell", c)
		}
		if !strings.HasPrefix(c.String(), "probe:") {
			t.Errorf("%s: the cell's name does not name its section", c)
		}
	}
	sections["probe"] = s
	defer delete(sections, "probe")
	if sc := cells[0].Scenario(); sc.Wait != WaitGet {
		t.Errorf("%s: the section's shape was not applied", sc)
	}
	if _, err := LookupSection("nope"); err == nil || !strings.Contains(err.Error(), "allowed") {
		t.Errorf("LookupSection(nope) = %v, want an error naming what is allowed", err)
	}
}
