package scenarios_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// TestRealPoolsBesideTheirModels runs the real cells live, many at once
// (a real run mostly waits), on every real pool whose module imports:
// every standard cell, and every section's cells on CPython's two pools
// (the peers' section cells too with POOLHANG_REAL=all; go test's budget
// on 2 cores holds no more, and results/real.json records them, checked
// by TestCommittedRealColumnsAgree). A cell fails the test when it
// disagrees with its model and scenarios.Explanations does not explain
// it, when it agrees where an explanation says it differs, or when it
// differs from results/real.json where neither the pool's source
// (RealCell.Race) nor the recorded runs (RealCell.Seen) say it can.
//
// A real verdict is an observation: the pools have races of their own,
// and a pool starved of CPU for its whole stall limit looks stuck. So a
// cell that fails is run again, at most four reruns at once and with
// twice its stall limit, up to twice; it fails the test only if every
// run fails, and a cell that passed on a rerun is logged with every
// verdict seen.
func TestRealPoolsBesideTheirModels(t *testing.T) {
	// The package's long tests run two at a time (go test -parallel is
	// GOMAXPROCS): this one mostly waits, and the others run beside it.
	t.Parallel()
	if testing.Short() {
		t.Skip("SKIP real pools under -short: every real cell runs live, about a minute")
	}
	if _, err := realpools.FindPython(); err != nil {
		t.Skipf("SKIP every real pool: %v; the model tests ran without them", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	a, err := realpools.Available(ctx, realpools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names, missing []string
	for _, p := range realpools.Pools() {
		if st := a.PoolStatus[p.Name]; st.OK {
			names = append(names, p.Name)
		} else {
			missing = append(missing, p.Name+" ("+p.Module+": "+st.Error+")")
		}
	}
	if len(missing) > 0 {
		t.Run("missing-peers", func(t *testing.T) {
			t.Skipf("SKIP real pools that do not import in %s, so none of their cells ran: %s; install them with: %s",
				a.Python, strings.Join(missing, ", "), realpools.Install)
		})
	}
	cells, peers := liveCells(names)
	if peers > 0 {
		t.Run("peers-sections", func(t *testing.T) {
			t.Skipf("SKIP %d section cells of the peers (billiard, loky, pebble) live: go test's 3 minutes on 2 cores do not hold them; "+
				"results/real.json has them (TestCommittedRealColumnsAgree checks it), and POOLHANG_REAL=all runs them here", peers)
		})
	}
	ch := realChecker{model: committedMatrix(t), pairs: map[string]scenarios.Pair{}}
	for _, p := range scenarios.Pairs() {
		ch.pairs[p.Real] = p
	}
	if ch.committed, err = scenarios.ReadRealFile(filepath.Join("..", "results")); err != nil {
		t.Fatal(err)
	}
	first, err := realpools.Matrix(ctx, cells, realpools.Options{}, realParallel, nil)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]realpools.Cell(nil), first...)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range first {
		why := ch.problem(c)
		if why == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs := []realpools.Cell{c}
			for fails := why; fails != "" && len(runs) < 3; {
				again := rerun(ctx, c)
				runs = append(runs, again)
				fails = ch.problem(again)
				if fails == "" {
					t.Logf("%s %s%s varies from run to run: %s; the first run failed: %s", c.Pool, prefix(c.Section), c.Fault, verdicts(runs), why)
				} else if len(runs) == 3 {
					t.Errorf("%s %s%s: %s, in each of %d runs (%s); reproduce: go run ./cmd/poolhang run '%s'",
						c.Pool, prefix(c.Section), c.Fault, fails, len(runs), verdicts(runs), c.Text())
				}
			}
			mu.Lock()
			all = append(all, runs[1:]...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	live, err := scenarios.RecordReal(all, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range scenarios.Pairs() {
		if slices.Contains(names, p.Real) {
			t.Log(scenarios.Compare(ch.model, live, p).Line())
		}
	}
}

// realParallel is how many real cells run at once: most of a cell's time
// is a wait (a stall limit, billiard's grace), and the load of 64 at once
// on 2 cores is what the driver's starvation gauge absorbs.
const realParallel = 64

// liveCells lists the real cells go test runs live on the pools named,
// and how many of the peers' section cells it leaves to POOLHANG_REAL=all.
func liveCells(names []string) (cells []realpools.Cell, peers int) {
	for _, c := range scenarios.RealCells(names) {
		if c.Section != "" && c.Pool != "py:mp.Pool" && c.Pool != "py:ProcessPoolExecutor" && os.Getenv("POOLHANG_REAL") != "all" {
			peers++
			continue
		}
		cells = append(cells, c)
	}
	return cells, peers
}

// rerun runs c again with twice its stall limit, with at most three
// other reruns at once.
func rerun(ctx context.Context, c realpools.Cell) realpools.Cell {
	rerunSlots <- struct{}{}
	defer func() { <-rerunSlots }()
	stall := max(2*time.Duration(c.Outcome.StallS*float64(time.Second)), 2*realpools.MinStall)
	c.Outcome, c.Err = realpools.Run(ctx, c.Text(), realpools.Options{Stall: stall})
	return c
}

var rerunSlots = make(chan struct{}, 4)

// A realChecker says what is wrong with one run of a real cell, or "".
type realChecker struct {
	model     scenarios.Matrix
	committed scenarios.RealMatrix
	pairs     map[string]scenarios.Pair
}

func (ch realChecker) problem(x realpools.Cell) string {
	if x.Err != nil && !errors.Is(x.Err, realpools.ErrNotApplicable) {
		return "the run failed: " + x.Err.Error()
	}
	one, err := scenarios.RecordReal([]realpools.Cell{x}, 1)
	if err != nil {
		return err.Error()
	}
	rc := one.Cells[0]
	if p, ok := ch.pairs[x.Pool]; ok {
		rep := scenarios.Compare(ch.model, one, p)
		for _, d := range rep.Disagreements {
			if d.Explanation == "" {
				return fmt.Sprintf("%s (%s), and scenarios.Explanations does not explain it", d.Differ, p.Model)
			}
		}
		if slices.Contains(rep.Stale, prefix(rc.Section)+rc.Fault+"@"+rc.Phase) {
			return fmt.Sprintf("explained as a disagreement with %s, but they agree: drop the explanation", p.Model)
		}
		mc, _ := ch.model.Cell(scenarios.Cell{Pool: p.Model, Kind: rc.Fault, Phase: faults.Phase(rc.Phase), Section: rc.Section})
		if why := livelockShown(mc, x); why != "" {
			return why
		}
	}
	was, ok := ch.committed.CellIn(rc.Section, rc.Pool, rc.Fault, faults.Phase(rc.Phase))
	switch {
	case !ok:
		return "not in results/real.json; run " + scenarios.RealCommand
	case was.Verdict == rc.Verdict && was.Error == rc.Error, was.Race != "" || rc.Race != "" || len(was.Seen) > 1:
	default:
		return fmt.Sprintf("%s (%s), where results/real.json has %s (%s); evidence: %s", rc.Verdict, rc.Error, was.Verdict, was.Error, strings.Join(rc.Evidence, "; "))
	}
	if x.Outcome.Verdict == realpools.NoAnswer && len(x.Outcome.Threads) == 0 {
		return "no-answer without the parent's thread stacks"
	}
	return ""
}

// livelockShown says what is missing where the model proves a livelock
// and the real pool gave no answer: it must have restarted workers that
// died in the initializer, no more than the pool's size of them still
// starting.
func livelockShown(mc scenarios.MatrixCell, x realpools.Cell) string {
	if mc.Verdict != string(scenarios.Livelock) || x.Outcome.Verdict != realpools.NoAnswer {
		return ""
	}
	sc, err := scenarios.Parse(x.Text())
	if err != nil {
		return err.Error()
	}
	if o := x.Outcome; o.InitFailures < 2 || o.WorkersStarted-o.InitFailures > sc.Workers {
		return fmt.Sprintf("a livelock in the model, but the real pool restarted %d workers, %d of them dying in the initializer", o.WorkersStarted, o.InitFailures)
	}
	return ""
}

// verdicts lists each run's verdict.
func verdicts(runs []realpools.Cell) string {
	var vs []string
	for _, r := range runs {
		v := string(r.Outcome.Verdict)
		if r.Err != nil {
			v = "error (" + r.Err.Error() + ")"
		}
		vs = append(vs, v)
	}
	return strings.Join(vs, ", then ")
}

// prefix is "imap:" for a section's cell, "" for a standard one.
func prefix(section string) string {
	if section == "" {
		return ""
	}
	return section + ":"
}

// The committed real columns agree with the committed model matrix on
// every cell, or the difference is explained, and no explanation is for
// a cell that agrees. The peers' section cells, which go test does not
// run live, are checked here as results/ records them.
func TestCommittedRealColumnsAgree(t *testing.T) {
	r, err := scenarios.ReadRealFile(filepath.Join("..", "results"))
	if err != nil {
		t.Fatal(err)
	}
	m := committedMatrix(t)
	for _, p := range scenarios.Pairs() {
		rep := scenarios.Compare(m, r, p)
		if rep.Cells == 0 {
			t.Errorf("%s vs %s: no cell to compare in results/", p.Model, p.Real)
		}
		for _, d := range rep.Disagreements {
			if d.Explanation == "" {
				t.Errorf("%s vs %s at %s: %s, and scenarios.Explanations does not explain it", p.Model, p.Real, d.Fault, d.Differ)
			}
		}
		for _, f := range rep.Stale {
			t.Errorf("%s vs %s at %s: explained as a disagreement, but results/ has them agree: drop the explanation", p.Model, p.Real, f)
		}
	}
}

func committedMatrix(t *testing.T) scenarios.Matrix {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "results", scenarios.MatrixJSON))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := scenarios.ReadMatrix(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The agreement rule and the error kinds' mapping, on cells made by hand
// (no process runs): a proven hang agrees with no-answer, raised with
// raised when the real error maps to one of the model's kinds.
func TestAgreement(t *testing.T) {
	pe := func(class, msg string) *realpools.PyError { return &realpools.PyError{Class: class, Message: msg} }
	for _, tc := range []struct {
		model, real, class, msg string
		errors                  []string
		phase                   faults.Phase
		agree                   bool
	}{
		{"hang", "no-answer", "", "", nil, faults.TaskRun, true},
		{"hang", "raised", "concurrent.futures.process.BrokenProcessPool", "", nil, faults.TaskRun, false},
		{"completed", "completed", "", "", nil, faults.IdleLockWaiter, true},
		{"completed", "no-answer", "", "", nil, faults.IdleLockWaiter, false},
		{"raised", "raised", "concurrent.futures.process.BrokenProcessPool", "", []string{"broken-pool"}, faults.TaskRun, true},
		{"raised", "raised", "joblib.externals.loky.process_executor.TerminatedWorkerError", "", []string{"broken-pool"}, faults.TaskRun, true},
		{"raised", "raised", "pebble.common.ProcessExpired", "", []string{"worker-lost"}, faults.TaskRun, true},
		{"raised", "raised", "billiard.einfo.ExceptionWithTraceback", "raise WorkerLostError(", []string{"worker-lost"}, faults.TaskRun, true},
		{"raised", "raised", "poolhang_driver.InjectedError", "", []string{"encode-error"}, faults.TaskEncode, true},
		{"raised", "raised", "poolhang_driver.InjectedError", "", []string{"encode-error"}, faults.TaskRun, false},
		{"raised", "raised", "multiprocessing.pool.MaybeEncodingError", "", []string{"encode-error"}, faults.ResultEncode, true},
		{"raised", "raised", "SystemExit", "2", []string{"exit-request"}, faults.TaskRun, true},
		{"raised", "raised", "SystemExit", "2", []string{"broken-pool"}, faults.TaskRun, false},
		{"raised", "parent-exited", "", "", []string{"broken-pool"}, faults.ResultDecode, false},
	} {
		var e *realpools.PyError
		if tc.class != "" {
			e = pe(tc.class, tc.msg)
		}
		mc := scenarios.MatrixCell{Pool: "failfast", Fault: "sigkill", Phase: string(tc.phase), Verdict: tc.model, Errors: tc.errors}
		rc := scenarios.RealCell{Pool: "py:ProcessPoolExecutor", Fault: "sigkill", Phase: string(tc.phase), Verdict: tc.real}
		if e != nil {
			rc.Error, rc.Kind = e.Class, scenarios.RealErrorKind(e, tc.phase)
		}
		if got, how := scenarios.Agrees(mc, rc); got != tc.agree {
			t.Errorf("model %s %v vs real %s %s at %s: agree = %v, want %v (%s)", tc.model, tc.errors, tc.real, tc.class, tc.phase, got, tc.agree, how)
		}
	}
}

// A committed real.json reads back, and the matrix shows its columns
// beside the models in matrix.md and matrix.svg, naive saying it has no
// runnable counterpart.
func TestRealColumnsInTheMatrix(t *testing.T) {
	r, err := scenarios.ReadRealFile(filepath.Join("..", "results"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Cells) == 0 {
		t.Fatalf("results/real.json has no cells; run %s", scenarios.RealCommand)
	}
	m := committedMatrix(t).WithReal(r)
	md := m.Markdown()
	for _, want := range []string{"py:mp.Pool (real)", "py:ProcessPoolExecutor (real)", "no runnable counterpart", "respawn vs py:mp.Pool:", "failfast vs py:ProcessPoolExecutor:"} {
		if !strings.Contains(md, want) {
			t.Errorf("matrix.md lacks %q", want)
		}
	}
	svg, err := m.Picture().SVG()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"real pools", "py:mp.Pool", "no-answer"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("matrix.svg lacks %q", want)
		}
	}
	for _, c := range r.Cells {
		for _, e := range c.Evidence {
			if strings.Contains(e, "pid ") {
				t.Errorf("%s %s@%s: evidence names a pid: %q", c.Pool, c.Fault, c.Phase, e)
			}
		}
	}
}
