package conformance_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/poolhang/poolhang/conformance"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

func needPython(t *testing.T) string {
	t.Helper()
	py, err := realpools.FindPython()
	if err != nil {
		t.Skipf("SKIP the differential search: %v", err)
	}
	return py
}

// The small search: 20 generated scenarios per pair, on the model and
// on the real pool; any disagreement not in the table of known ones
// fails, with the commands that replay it.
func TestSearchSmall(t *testing.T) {
	needPython(t)
	for _, p := range conformance.DefaultPairs() {
		t.Run(p.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := conformance.Search(ctx, conformance.Config{Pair: p, N: 20, Seed: 1000, NoShrink: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d ran, %d agree, %d disagree (%d explained), %d skipped %v, in %s",
				p, rep.Ran, rep.Agree, rep.Disagree, rep.Explained, rep.SkippedN, rep.Skipped, rep.Wall.Round(time.Millisecond))
			for _, e := range rep.Errors {
				t.Errorf("harness error: %s", e)
			}
			if rep.Ran < 10 {
				t.Errorf("only %d of 20 scenarios ran on both sides", rep.Ran)
			}
			for _, f := range rep.Unexplained() {
				c := p.Commands(f.First.Scenario)
				t.Errorf("unexplained disagreement: %s: model %s (%s), real %s (%s)\n  replay: %s\n  and: %s\n  shrink: go run ./cmd/poolhang conform",
					f.First.Scenario, f.First.Model, f.First.Model.Summary, f.First.Real, f.First.Real.Summary, c[0], c[1])
			}
		})
	}
}

// python/cpython issue 94777: a worker dies while the call queue's feeder
// writes a task larger than the pipe buffer, and the caller joins
// (shutdown(wait=True)). Whether this Python hangs is read from its own
// source: the fix (PR 94784) closes call_queue._reader in
// terminate_broken (concurrent/futures/process.py). Without it the
// manager joins the blocked feeder forever: no answer, with that
// evidence; with it, BrokenProcessPool.
func TestGH94777(t *testing.T) {
	pys := []string{needPython(t)}
	if p, err := exec.LookPath("python3"); err == nil && p != pys[0] {
		pys = append(pys, p) // pyenv's, say: another 3.11
	}
	sc := "pool=py:ProcessPoolExecutor workers=1 jobs=3 payload=1048576 wait=join fault=os-exit@task-run:0"
	for _, py := range pys {
		t.Run(py, func(t *testing.T) {
			src, err := exec.Command(py, "-c", "import concurrent.futures.process as p; print(p.__file__)").Output()
			if err != nil {
				t.Skipf("SKIP %s: %v", py, err)
			}
			b, err := os.ReadFile(strings.TrimSpace(string(src)))
			if err != nil {
				t.Fatal(err)
			}
			fixed := strings.Contains(string(b), "self.call_queue._reader.close()")
			o, err := realpools.Run(context.Background(), sc, realpools.Options{Python: py, Stall: conformance.DefaultStall})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Python %s (fix present: %v): %s", o.Python, fixed, o.Summary())
			switch {
			case fixed && (o.Verdict != realpools.Raised || conformance.RealKinds(o)[0] != scenarios.ErrKindBroken):
				t.Errorf("with the fix, want raised BrokenProcessPool: %s", o.Summary())
			case !fixed && o.Verdict != realpools.NoAnswer:
				t.Errorf("without the fix, want no-answer: %s", o.Summary())
			case !fixed:
				r := conformance.Result{Pair: conformance.Pair{Model: pools.FailFast, Real: "py:ProcessPoolExecutor"},
					Model: conformance.Side{Verdict: "raised"}, Real: conformance.Side{Verdict: "no-answer"}, RealOutcome: o}
				if k := conformance.Explain(r); k == nil || k.ID != "gh-94777" {
					t.Errorf("the evidence does not show gh-94777 (manager joining a feeder blocked in a write): %+v", o.Threads)
				}
			}
		})
	}
}

func TestRealKind(t *testing.T) {
	for _, c := range []struct{ class, msg, want string }{
		{"poolhang_driver.InjectedError", "raise at task-run of job 2", scenarios.ErrKindTask},
		{"poolhang_driver.InjectedError", "raise at task-encode of job 2", scenarios.ErrKindEncode},
		{"poolhang_driver.InjectedError", "raise at result-encode of job 0", scenarios.ErrKindEncode},
		{"multiprocessing.pool.MaybeEncodingError", "Error sending result", scenarios.ErrKindEncode},
		{"SystemExit", "2", scenarios.ErrKindExit},
		{"concurrent.futures.process.BrokenProcessPool", "", scenarios.ErrKindBroken},
		{"MemoryError", "", scenarios.ErrKindRead},
		{"ValueError", "", scenarios.ErrKindOther},
	} {
		if got := conformance.RealKind(c.class, c.msg, ""); got != c.want {
			t.Errorf("RealKind(%s, %q) = %s, want %s", c.class, c.msg, got, c.want)
		}
	}
}

func TestAgree(t *testing.T) {
	mapSc := scenarios.Scenario{Wait: scenarios.WaitMap}
	getSc := scenarios.Scenario{Wait: scenarios.WaitGet}
	side := func(v string, k ...string) conformance.Side { return conformance.Side{Verdict: v, Kinds: k} }
	for _, c := range []struct {
		sc   scenarios.Scenario
		m, r conformance.Side
		want bool
	}{
		{getSc, side("hang"), side("no-answer"), true},
		{getSc, side("hang"), side("raised", "broken-pool"), false},
		{getSc, side("completed"), side("completed"), true},
		{getSc, side("hang-timeout"), side("no-answer"), false},
		{getSc, side("raised", "broken-pool"), side("raised", "broken-pool"), true},
		{getSc, side("raised", "broken-pool", "task-error"), side("raised", "broken-pool"), false},
		{mapSc, side("raised", "broken-pool", "task-error"), side("raised", "task-error"), true},
		{mapSc, side("raised", "task-error"), side("raised", "encode-error"), false},
		{getSc, side("completed"), side("wrong-value"), false},
	} {
		if got := conformance.Agree(c.sc, c.m, c.r); got != c.want {
			t.Errorf("Agree(wait=%s, %s, %s) = %v, want %v", c.sc.Wait, c.m, c.r, got, c.want)
		}
	}
}

func TestParsePairs(t *testing.T) {
	if _, err := conformance.ParsePairs("respawn=py:mp.Pool,failfast=py:ProcessPoolExecutor"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"respawn", "nope=py:mp.Pool", "respawn=py:nope", ""} {
		if _, err := conformance.ParsePairs(bad); err == nil {
			t.Errorf("ParsePairs(%q): no error", bad)
		}
	}
}
