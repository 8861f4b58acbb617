package scenarios_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// The recovery row, argued per pool: ProcessPoolExecutor stays broken
// (submit raises `self._flags.broken`), loky's reusable executor is
// replaced by get_reusable_executor, billiard and tracked replace the
// dead worker and go on, and the multiprocessing.Pool models never answer
// the first map.
func TestRecoveryRow(t *testing.T) {
	want := map[string]scenarios.RecoveryCell{
		"failfast": {First: "raised (broken-pool)", Second: "raised (broken-pool)"},
		"loky":     {First: "raised (broken-pool)", Reused: true, Second: "completed"},
		"billiard": {First: "raised (worker-lost)", Second: "completed"},
		"tracked":  {First: "raised (worker-lost)", Second: "completed"},
	}
	cells, err := scenarios.RunRecovery(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		w, ok := want[c.Pool]
		switch {
		case c.Pool == "naive" || c.Pool == "respawn":
			if c.NA == "" {
				t.Errorf("%s: %+v, want n/a (its first map hangs)", c.Pool, c)
			}
		case !ok:
			t.Logf("%s: %+v (no expectation here)", c.Pool, c)
		case c.First != w.First || c.Reused != w.Reused || c.Second != w.Second:
			t.Errorf("%s: first %s, reused %v, second %s; want %s, %v, %s", c.Pool, c.First, c.Reused, c.Second, w.First, w.Reused, w.Second)
		}
	}
}

// recoveryScript does the recovery row on the real pools: a map of 6
// where job 2's worker kills itself with SIGSEGV, then a submit on the
// same executor, then (loky) get_reusable_executor() again and a map of
// 6 on what it returns.
const recoveryScript = `
import json, os, signal, sys
def job(i):
    if i == 2:
        os.kill(os.getpid(), signal.SIGSEGV)
    return i * i
def square(i):
    return i * i
def first_and_second(ex):
    out = {}
    try:
        list(ex.map(job, range(6)))
        out["first"] = "completed"
    except BaseException as e:
        out["first"] = type(e).__name__
    try:
        ex.submit(square, 3).result()
        out["same_executor"] = "completed"
    except BaseException as e:
        out["same_executor"] = type(e).__name__
    return out
if __name__ == "__main__":
    res = {}
    from concurrent.futures import ProcessPoolExecutor
    ex = ProcessPoolExecutor(2)
    res["py:ProcessPoolExecutor"] = first_and_second(ex)
    ex.shutdown(wait=True)
    try:
        from joblib.externals.loky import get_reusable_executor
    except ImportError as e:
        res["py:loky"] = {"skip": str(e)}
    else:
        ex = get_reusable_executor(max_workers=2)
        out = first_and_second(ex)
        again = get_reusable_executor(max_workers=2)
        out["fresh_executor"] = again is not ex
        out["second"] = "completed" if list(again.map(square, range(6))) == [i * i for i in range(6)] else "wrong"
        again.shutdown(wait=True)
        res["py:loky"] = out
    json.dump(res, sys.stdout)
`

// TestRecoveryRowOnRealPools runs the recovery row on the real
// ProcessPoolExecutor and loky and checks them against the models' row.
func TestRecoveryRowOnRealPools(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP the real recovery row under -short")
	}
	py, err := realpools.FindPython()
	if err != nil {
		t.Skipf("SKIP the real recovery row: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", recoveryScript)
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", py, err, out)
	}
	var res map[string]map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	t.Logf("real recovery row: %s", strings.TrimSpace(string(out)))
	ppe := res["py:ProcessPoolExecutor"]
	if ppe["first"] != "BrokenProcessPool" || ppe["same_executor"] != "BrokenProcessPool" {
		t.Errorf("py:ProcessPoolExecutor: %v, want BrokenProcessPool twice (failfast's row: broken-pool, then broken-pool)", ppe)
	}
	loky := res["py:loky"]
	if skip, ok := loky["skip"]; ok {
		t.Skipf("SKIP py:loky's recovery row: %v; install it with: %s", skip, realpools.Install)
	}
	if loky["first"] != "TerminatedWorkerError" || loky["same_executor"] != "TerminatedWorkerError" ||
		loky["fresh_executor"] != true || loky["second"] != "completed" {
		t.Errorf("py:loky: %v, want TerminatedWorkerError, the same executor still broken, then a fresh executor that completes (loky's row)", loky)
	}
}
