package scenarios_test

import (
	"slices"
	"testing"

	"github.com/poolhang/poolhang/scenarios"
)

// billiard's mechanisms beyond the standard map, each argued from
// billiard 4.1's billiard/pool.py: the acknowledgement decides whether a
// dead worker's job is answered at all.
func TestBilliardAcknowledgement(t *testing.T) {
	cases := []struct {
		sc      string
		verdict scenarios.Verdict
		kind    string // the error kind of a raised verdict
		cause   scenarios.Cause
		why     string
	}{
		{"pool=billiard workers=1 jobs=1 wait=get fault=segfault@task-run:0", scenarios.Raised, scenarios.ErrKindWorkerLost, "",
			"Worker.workloop sent ACK before running job 0: its ApplyResult._worker_pid is the dead pid, so after the grace mark_as_worker_lost fails it"},
		{"pool=billiard workers=1 jobs=1 wait=get fault=segfault@task-decode:0", scenarios.Hang, "", scenarios.CauseJobLost,
			"the worker died unpickling job 0, before its ACK: no pid is recorded for the job, _join_exited_workers finds nothing to mark, and the job is lost"},
		{"pool=billiard workers=2 jobs=6 wait=get fault=raise@task-encode:2", scenarios.Raised, scenarios.ErrKindEncode, "",
			"TaskHandler.body sets the error on cache[TASK], cache[2]: here job 2 itself, the third apply_async"},
		{"pool=billiard workers=2 jobs=6 wait=map fault=raise@task-encode:2", scenarios.Hang, "", scenarios.CauseJobDropped,
			"the map is job 0: cache[2] is nobody, the error is swallowed and job 2's task is never sent"},
	}
	for _, c := range cases {
		t.Run(c.sc, func(t *testing.T) {
			sc, err := scenarios.Parse(c.sc)
			if err != nil {
				t.Fatal(err)
			}
			o := run(t, sc)
			if o.Verdict != c.verdict {
				t.Fatalf("%s, want %s (%s): %s", o.Verdict, c.verdict, c.why, o.Diagnosis)
			}
			if c.kind != "" && !slices.Contains(o.ErrorKinds(), c.kind) {
				t.Errorf("errors %v, want %s (%s)", o.ErrorKinds(), c.kind, c.why)
			}
			if c.cause != "" && !slices.Contains(o.Causes, c.cause) {
				t.Errorf("causes %v, want %s (%s)", o.Causes, c.cause, c.why)
			}
		})
	}
}
