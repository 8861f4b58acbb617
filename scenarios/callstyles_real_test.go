package scenarios_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// TestShutdownCancelLive runs twoStuck on ProcessPoolExecutor beside
// the failfast model (the section's cells themselves run live in
// TestRealPoolsBesideTheirModels). Both sides hang on
// job 0. Which futures 3.11 cancels depends on when its manager last ran
// add_call_item_to_queue: it fills the call queue (max_workers +
// EXTRA_QUEUED_CALLS = 3 deep) only when woken (a submit, a result, a
// death), so with its workers started lazily by the first submits, the
// queue holds jobs 0 to 2 when the last submit wakes it, the stuck
// workers then take 0 and 1, no result comes to wake it again, and 3 to
// 7 are cancelled. The model counts the queue as refilled behind the
// workers (2 to 4 running), the fullest it can be, so it cancels the
// fewest: the real pool must cancel at least what the model cancels, and
// only jobs no worker took.
func TestShutdownCancelLive(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("SKIP real pools under -short: a no-answer takes at least 2 s")
	}
	if _, err := realpools.FindPython(); err != nil {
		t.Skipf("SKIP shutdown(cancel_futures=True) on the real pool: %v; the model tests ran without it", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sc, err := scenarios.Parse(twoStuck)
	if err != nil {
		t.Error(err)
		return
	}
	mo, err := scenarios.Run(ctx, sc)
	if err != nil {
		t.Error(err)
		return
	}
	real := sc
	real.Pool = "py:ProcessPoolExecutor"
	ro, err := scenarios.RunReal(ctx, real, realpools.Options{})
	if err != nil {
		t.Error(err)
		return
	}
	var realCancelled []int
	for _, j := range ro.Jobs {
		if j.Outcome == "error" && scenarios.RealErrorKind(&realpools.PyError{Class: j.Class, Message: j.Message}, faults.TaskRun) == scenarios.ErrKindCancelled {
			realCancelled = append(realCancelled, j.Job)
		}
	}
	modelCancelled := cancelled(mo)
	if mo.Verdict != scenarios.Hang || ro.Verdict != realpools.NoAnswer {
		t.Errorf("%s: the model %s, the real pool %s; want a hang and a no-answer", sc, mo.Verdict, ro.Verdict)
	}
	for _, j := range modelCancelled {
		if !slices.Contains(realCancelled, j) {
			t.Errorf("%s: the model cancels job %d, the real pool does not (it cancelled %v)", sc, j, realCancelled)
		}
	}
	for _, j := range realCancelled {
		if j < 2 {
			t.Errorf("%s: the real pool cancelled job %d, which a stuck worker runs", sc, j)
		}
	}
	t.Logf("%s: the model cancels %v, ProcessPoolExecutor %v", sc, modelCancelled, realCancelled)
}
