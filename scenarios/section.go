package scenarios

import (
	"fmt"
	"sort"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// A Section is a part of the matrix: one way a program calls its pool (a
// call style such as imap or apply_async with callbacks, or a pool option
// such as maxtasksperchild), run on the rows of the catalog where that way
// of calling makes a difference. loky's crash tests keep one table of
// cases and run it under each call style; a section is that, as data.
//
// The standard section (Name "") is every row of the catalog called as one
// map with default options; the others are registered with [DefineSection]
// from the file that adds the call style or option.
type Section struct {
	// Name is a word used in cell names, anchors, file names and
	// matrix.json ("imap", "maxtasks"); "" is the standard section.
	Name string
	// Order places the section in the matrix, after the standard one.
	Order int
	// Title heads the section in matrix.md.
	Title string
	// Doc says what the call is, naming the real pools' functions.
	Doc string
	// Rows are the faults the section shows; each is checked against the
	// catalog as a standard cell is, so an impossible pair is n/a.
	Rows []Row
	// Shape turns a cell's standard scenario into the section's.
	Shape func(Scenario) Scenario
	// NA says why a strategy has no such call or option, or "" if it has.
	// nil: every strategy has it.
	NA func(pools.Strategy) string
}

// A Row is a fault kind at a phase: a row of the matrix.
type Row struct {
	Kind  string
	Phase faults.Phase
}

func (r Row) String() string { return r.Kind + "@" + string(r.Phase) }

var sections = map[string]Section{}

// DefineSection registers a section; call it from an init function. It
// panics on a section without a name, title, rows or shape, or on a name
// used twice, as a programming error.
func DefineSection(s Section) {
	if s.Name == "" || s.Title == "" || len(s.Rows) == 0 || s.Shape == nil {
		panic(fmt.Sprintf("scenarios: DefineSection(%q): a section needs a name, a title, rows and a shape", s.Name))
	}
	if _, dup := sections[s.Name]; dup {
		panic("scenarios: section defined twice: " + s.Name)
	}
	sections[s.Name] = s
}

// Sections lists the registered sections in matrix order, after the
// standard section, which it does not include.
func Sections() []Section {
	out := make([]Section, 0, len(sections))
	for _, s := range sections {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Order != out[j].Order {
			return out[i].Order < out[j].Order
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// LookupSection returns the section named name; "" is the standard one.
func LookupSection(name string) (Section, error) {
	if name == "" {
		return Section{Title: "Standard: one map, default options", Shape: func(sc Scenario) Scenario { return sc }}, nil
	}
	s, ok := sections[name]
	if !ok {
		var names []string
		for _, x := range Sections() {
			names = append(names, x.Name)
		}
		return Section{}, fmt.Errorf("unknown matrix section %q (allowed: the standard section, %v)", name, names)
	}
	return s, nil
}

// notApplicable says why strategy p has no cell in section s, or "". A
// model has cells in a section only where that section argues its
// expectations: a strategy registered after the section was written is
// "not modelled" there until someone argues them, rather than run with
// no expectation to check.
func (s Section) notApplicable(p pools.Strategy) string {
	if s.NA != nil {
		if why := s.NA(p); why != "" {
			return why
		}
	}
	if _, err := pools.Lookup(p); err == nil && sectionExpectations[s.Name][p] == nil {
		return "not modelled: no expectation is argued for the " + string(p) + " model in this section yet (the real pools' columns show the libraries)"
	}
	return ""
}

// sectionCells lists a non-standard section's meaningful cells: strategies
// in order, then the section's rows.
func sectionCells(s Section) []Cell {
	var out []Cell
	for _, p := range pools.Strategies() {
		if s.notApplicable(p) != "" {
			continue
		}
		for _, r := range s.Rows {
			k, err := faults.Lookup(r.Kind)
			if err != nil {
				panic(fmt.Sprintf("scenarios: section %s has a row of unknown kind %q", s.Name, r.Kind))
			}
			if k.Check(p, r.Phase, 2) == nil {
				out = append(out, Cell{Pool: p, Kind: r.Kind, Phase: r.Phase, Section: s.Name})
			}
		}
	}
	return out
}

// Scenario is the cell's scenario: the standard one, shaped by its
// section.
func (c Cell) Scenario() Scenario {
	sc := Standard(c.Pool, c.Kind, c.Phase)
	if c.Section == "" {
		return sc
	}
	s, err := LookupSection(c.Section)
	if err != nil {
		panic("scenarios: " + err.Error())
	}
	return s.Shape(sc)
}
