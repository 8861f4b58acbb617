package scenarios_test

import (
	"testing"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// billiard's IMapIterator.next raises a failed item as Exception(value),
// value the ExceptionInfo whose str is a traceback: the kind comes from
// the traceback, and a bare Exception stays other.
func TestRealErrorKindOfBilliardItems(t *testing.T) {
	const lost = "Traceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/billiard/pool.py\", line 1265, in mark_as_worker_lost\n    raise WorkerLostError(\nbilliard.exceptions.WorkerLostError: Worker exited prematurely: signal 9 (SIGKILL) Job: 3."
	const task = "Traceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/billiard/pool.py\", line 361, in workloop\n    result = (True, prepare_result(fun(*args, **kwargs)))\n  File \"/tmp/x/poolhang_driver.py\", line 376, in run_job\n    _strike_run(kind, job, results)\n  File \"/tmp/poo"
	for _, tc := range []struct {
		msg   string
		phase faults.Phase
		want  string
	}{
		{lost, faults.TaskRun, scenarios.ErrKindWorkerLost},
		{task, faults.TaskRun, scenarios.ErrKindTask},
		{"Traceback (most recent call last):\n  File \"x.py\", line 1, in f\nValueError: no", faults.TaskRun, scenarios.ErrKindOther},
		{"something else with WorkerLostError in it", faults.TaskRun, scenarios.ErrKindOther},
	} {
		if got := scenarios.RealErrorKind(&realpools.PyError{Class: "Exception", Message: tc.msg}, tc.phase); got != tc.want {
			t.Errorf("RealErrorKind(Exception(%.40q...)) = %s, want %s", tc.msg, got, tc.want)
		}
	}
}

// A call that ended early with no job failed agrees only with a real
// call that did the same, and a billiard imap item seen as a bare
// Exception (results committed before RealErrorKind read its traceback)
// is explained, only in the imap sections.
func TestBilliardIMapAgreement(t *testing.T) {
	early := scenarios.MatrixCell{Section: "imap", Pool: "billiard", Fault: "raise", Phase: "input", Verdict: "raised"}
	if ok, how := scenarios.Agrees(early, scenarios.RealCell{Section: "imap", Pool: "py:billiard", Fault: "raise", Phase: "input", Verdict: "raised"}); !ok {
		t.Errorf("an early end with no failed job on both sides disagrees: %s", how)
	}
	if ok, _ := scenarios.Agrees(early, scenarios.RealCell{Pool: "py:billiard", Verdict: "raised", Error: "X", Kind: scenarios.ErrKindTask}); ok {
		t.Error("an early end with no failed job agrees with a real task error")
	}
	p := scenarios.Pair{Model: pools.Billiard, Real: "py:billiard"}
	for _, tc := range []struct {
		section   string
		explained bool
	}{{"imap", true}, {"imap_unordered", true}, {"imap-chunks", true}, {"callback", false}, {"", false}} {
		m := scenarios.Matrix{Cells: []scenarios.MatrixCell{{Section: tc.section, Pool: "billiard", Fault: "sigkill", Phase: "task-run", Verdict: "raised", Errors: []string{scenarios.ErrKindWorkerLost}}}}
		r := scenarios.RealMatrix{Cells: []scenarios.RealCell{{Section: tc.section, Pool: "py:billiard", Fault: "sigkill", Phase: "task-run", Verdict: "raised", Error: "Exception", Kind: scenarios.ErrKindOther}}}
		rep := scenarios.Compare(m, r, p)
		if len(rep.Disagreements) != 1 {
			t.Fatalf("section %q: %d disagreements, want 1", tc.section, len(rep.Disagreements))
		}
		if got := rep.Disagreements[0].Explanation != ""; got != tc.explained {
			t.Errorf("section %q: explained %v, want %v (%s)", tc.section, got, tc.explained, rep.Disagreements[0].Explanation)
		}
	}
}
