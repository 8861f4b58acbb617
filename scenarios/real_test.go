package scenarios_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// TestRealPoolsBesideTheirModels runs every standard cell live on every
// real pool whose module imports (CPython's two always, where there is a
// Python 3), all at once, since a real run mostly waits. It fails on a
// model/real disagreement that scenarios.Explanations does not explain,
// on an explanation whose cell now agrees, and on a real cell that
// differs from the committed results/real.json, unless that cell is one
// the pool's source says can differ from run to run, or was seen to.
func TestRealPoolsBesideTheirModels(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP real pools under -short: every real cell runs live, about 30 s")
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
	cells, err := realpools.Matrix(ctx, scenarios.RealCells(names), realpools.Options{}, 256, nil)
	if err != nil {
		t.Fatal(err)
	}
	model := committedMatrix(t)
	confirmNoAnswers(ctx, t, model, cells)
	live, err := scenarios.RecordReal(cells, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range scenarios.Pairs() {
		rep := scenarios.Compare(model, live, p)
		if rep.Cells == 0 {
			t.Errorf("%s vs %s: no cell to compare", p.Model, p.Real)
		}
		for _, d := range rep.Disagreements {
			if d.Explanation == "" {
				t.Errorf("%s vs %s at %s: %s, and scenarios.Explanations does not explain it (%s)",
					p.Model, p.Real, d.Fault, d.Differ, cellOf(live, p.Real, d.Fault).Reproduce)
			}
		}
		for _, f := range rep.Stale {
			t.Errorf("%s vs %s at %s: explained as a disagreement, but they now agree: drop the explanation", p.Model, p.Real, f)
		}
		t.Log(rep.Line())
	}
	committed, err := scenarios.ReadRealFile(filepath.Join("..", "results"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range live.Cells {
		was, ok := committed.CellIn(c.Section, c.Pool, c.Fault, phaseOf(c))
		switch {
		case !ok:
			t.Errorf("%s %s@%s: not in results/real.json; run %s", c.Pool, c.Fault, c.Phase, scenarios.RealCommand)
		case was.Verdict == c.Verdict && was.Error == c.Error:
		case was.Race != "" || c.Race != "" || len(was.Seen) > 1:
			t.Logf("%s %s@%s: %s now, results/real.json has %s%s: this cell can differ from run to run (%s)",
				c.Pool, c.Fault, c.Phase, c.Verdict, was.Verdict, seen(was), was.Race)
		default:
			t.Errorf("%s %s@%s: %s (%s) now, results/real.json has %s (%s); evidence now: %s; reproduce: %s",
				c.Pool, c.Fault, c.Phase, c.Verdict, c.Error, was.Verdict, was.Error, strings.Join(c.Evidence, "; "), c.Reproduce)
		}
		if c.Verdict == "no-answer" && c.Outcome() != nil && len(c.Outcome().Threads) == 0 {
			t.Errorf("%s %s@%s: no-answer without the parent's thread stacks", c.Pool, c.Fault, c.Phase)
		}
	}
}

// confirmNoAnswers reruns, alone and with twice the stall limit, every
// no-answer of a real pool that has a model where the model answers. A
// no-answer is an observation bounded in time: this test shares 2 cores
// with the other packages' tests (some of which keep both cores busy on
// purpose), and a pool starved for the whole stall limit looks stuck.
// The rerun decides, and the test says so.
func confirmNoAnswers(ctx context.Context, t *testing.T, model scenarios.Matrix, cells []realpools.Cell) {
	pairs := map[string]string{}
	for _, p := range scenarios.Pairs() {
		pairs[p.Real] = string(p.Model)
	}
	for i, c := range cells {
		kind, phase, _ := strings.Cut(c.Fault, "@")
		mc, ok := model.Cell(scenarios.Cell{Pool: pools.Strategy(pairs[c.Pool]), Kind: kind, Phase: faults.Phase(phase), Section: c.Section})
		if c.Err != nil || c.Outcome.Verdict != realpools.NoAnswer || !ok || mc.Verdict == string(scenarios.Hang) {
			continue
		}
		o, err := realpools.Run(ctx, c.Text(),
			realpools.Options{Stall: 2 * time.Duration(c.Outcome.LimitS*float64(time.Second))})
		t.Logf("%s %s: no-answer after %.1f s while the model answers; rerun alone with twice the stall limit: %s (%v)",
			c.Pool, c.Fault, c.Outcome.NoProgressMS/1000, o.Summary(), err)
		if err == nil {
			cells[i].Outcome = o
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

func cellOf(r scenarios.RealMatrix, pool, fault string) scenarios.RealCell {
	kind, phase, _ := strings.Cut(fault, "@")
	c, _ := r.Cell(pool, kind, faults.Phase(phase))
	return c
}

func phaseOf(c scenarios.RealCell) faults.Phase { return faults.Phase(c.Phase) }

func seen(c scenarios.RealCell) string {
	if len(c.Seen) == 0 {
		return ""
	}
	return fmt.Sprintf(" (seen %v in %d runs)", c.Seen, runsOf(c))
}

func runsOf(c scenarios.RealCell) int {
	n := 0
	for _, k := range c.Seen {
		n += k
	}
	return n
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
