package realpools

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/poolhang/poolhang/faults"
)

// A Cell is one matrix scenario on one real pool and what became of it.
type Cell struct {
	Pool  string
	Fault string // KIND@PHASE
	// Section names the matrix section of the cell ("" for the standard
	// scenario); Scenario is the text run, Standard's if empty.
	Section  string
	Scenario string
	// Outcome is the run's; Err is set instead for n/a (ErrNotApplicable)
	// and for runs that failed.
	Outcome Outcome
	Err     error
}

// Standard is a matrix cell's scenario on a real pool, the same shape as
// scenarios.Standard: 2 workers, 6 jobs as one map, the fault on job 2
// (or, for idle phases, on an idle worker before the map).
func Standard(pool string, kind string, phase faults.Phase) string {
	f := fmt.Sprintf("%s@%s:2", kind, phase)
	if info, err := faults.ParsePhase(string(phase)); err == nil && !info.TakesJob() {
		f = fmt.Sprintf("%s@%s", kind, phase)
	}
	wait := "map"
	if k, err := faults.Lookup(kind); err == nil && k.Wait != "" {
		wait = k.Wait // the kind is about how the caller waits
	}
	return fmt.Sprintf("pool=%s workers=2 jobs=6 wait=%s fault=%s", pool, wait, f)
}

// Text is the scenario the cell runs.
func (c Cell) Text() string {
	if c.Scenario != "" {
		return c.Scenario
	}
	kind, phase, _ := cut(c.Fault)
	return Standard(c.Pool, kind, faults.Phase(phase))
}

// StandardCells lists every standard cell of the pools named: each pool,
// then each fault of the catalog.
func StandardCells(poolNames []string) []Cell {
	var cells []Cell
	for _, name := range poolNames {
		for _, kp := range StandardFaults() {
			cells = append(cells, Cell{Pool: name, Fault: kp[0] + "@" + kp[1]})
		}
	}
	return cells
}

// StandardFaults lists every kind@phase of the fault catalog.
func StandardFaults() [][2]string {
	var out [][2]string
	for _, k := range faults.Kinds() {
		for _, ph := range k.Meaningful() {
			out = append(out, [2]string{k.Name, string(ph)})
		}
	}
	return out
}

// Matrix runs the cells, up to parallel runs at once (a run mostly
// waits), after calibrating each of their pools alone, and returns them
// with their outcomes, in order. progress, if not nil, is called after
// each cell.
func Matrix(ctx context.Context, cells []Cell, opts Options, parallel int, progress func(Cell)) ([]Cell, error) {
	py, err := opts.python()
	if err != nil {
		return nil, err
	}
	opts.Python = py
	stalls := map[string]time.Duration{}
	for _, c := range cells {
		name := c.Pool
		if _, done := stalls[name]; done {
			continue
		}
		p, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		if opts.Stall != 0 {
			stalls[name] = opts.Stall
			continue
		}
		d, err := calibrate(ctx, py, p, fmt.Sprintf("pool=%s workers=2 jobs=6 wait=map", name))
		if err != nil {
			return nil, err
		}
		stalls[name] = d
	}
	cells = append([]Cell(nil), cells...)
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range cells {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c := &cells[i]
			o := opts
			o.Stall = stalls[c.Pool]
			c.Outcome, c.Err = Run(ctx, c.Text(), o)
			if progress != nil {
				mu.Lock()
				progress(*c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return cells, ctx.Err()
}

func cut(fault string) (kind, phase string, ok bool) {
	for i := 0; i < len(fault); i++ {
		if fault[i] == '@' {
			return fault[:i], fault[i+1:], true
		}
	}
	return fault, "", false
}
