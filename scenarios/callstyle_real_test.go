package scenarios_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// TestCallStylesBesideTheRealPools runs a few cells of the call-style
// sections live on CPython's pools beside their models, all at once: a
// proven hang must be a no-answer, an answer must be an answer with the
// same error kind. A no-answer where the model answers is rerun alone
// with twice the stall limit before it counts (the machine's 2 cores are
// shared, and a starved pool looks stuck), as the standard cells' test
// does. The real caller's bounded get gives up at the stall limit, so a
// cell that hangs after it takes two limits.
func TestCallStylesBesideTheRealPools(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP real pools under -short: the call-style cells run live, about 10 s")
	}
	if _, err := realpools.FindPython(); err != nil {
		t.Skipf("SKIP the call styles on real pools: %v; the model tests ran without them", err)
	}
	cells := []struct {
		section, real string
		kind          string
		phase         faults.Phase
	}{
		{"terminate", "py:mp.Pool", "sigkill", faults.TaskRun},
		{"terminate", "py:mp.Pool", "segfault", faults.IdleLockHolder},
		{"terminate", "py:mp.Pool", "sigkill", faults.ResultWrite},
		{"terminate", "py:mp.Pool", "stuck", faults.TaskRun},
		{"shutdown", "py:ProcessPoolExecutor", "sigkill", faults.TaskRun},
		{"shutdown", "py:ProcessPoolExecutor", "sigkill", faults.ResultWrite},
		{"shutdown", "py:ProcessPoolExecutor", "stuck", faults.TaskRun},
		{"shutdown-cancel", "py:ProcessPoolExecutor", "sigkill", faults.TaskRun},
		{"shutdown-cancel", "py:ProcessPoolExecutor", "stuck", faults.TaskRun},
	}
	models := map[string]string{}
	for _, p := range scenarios.Pairs() {
		models[p.Real] = string(p.Model)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range cells {
		cell := scenarios.Cell{Pool: poolStrategy(models[c.real]), Kind: c.kind, Phase: c.phase, Section: c.section}
		model := cell.Scenario()
		real := model
		real.Pool, real.Deadline = poolStrategy(c.real), 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			mo, err := scenarios.Run(ctx, model)
			if err != nil {
				t.Errorf("%s: %v", model, err)
				return
			}
			ro, err := scenarios.RunReal(ctx, real, realpools.Options{})
			if err == nil && ro.Verdict == realpools.NoAnswer && mo.Verdict != scenarios.Hang {
				ro, err = scenarios.RunReal(ctx, real, realpools.Options{Stall: 2 * time.Duration(ro.StallS*float64(time.Second))})
			}
			if err != nil {
				t.Errorf("%s: %v", real, err)
				return
			}
			if ok, why := agreeLive(mo, ro, c.phase); !ok {
				t.Errorf("%s: the model %s, the real pool %s (%s); reproduce: %s and %s", cell, mo.Verdict, ro.Verdict, why, model.Command(), real.Command())
			} else {
				t.Logf("%s: model %s %v, %s %s", cell, mo.Verdict, mo.ErrorKinds(), c.real, ro.Verdict)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		cancelsLive(ctx, t)
	}()
	wg.Wait()
}

// cancelsLive runs twoStuck on ProcessPoolExecutor. Both sides hang on
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
func cancelsLive(ctx context.Context, t *testing.T) {
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

// agreeLive is scenarios.Agrees for one run of each side, with the
// real side's error kinds read from every job, since these callers
// collect each job on its own.
func agreeLive(m scenarios.Outcome, r realpools.Outcome, phase faults.Phase) (bool, string) {
	switch m.Verdict {
	case scenarios.Hang:
		return r.Verdict == realpools.NoAnswer, "a proven hang against an answer"
	case scenarios.Completed:
		return r.Verdict == realpools.Completed, "completed against not"
	case scenarios.Raised:
		if r.Verdict != realpools.Raised {
			return false, "raised against not"
		}
		var kinds []string
		if r.CallError != nil {
			kinds = append(kinds, scenarios.RealErrorKind(r.CallError, phase))
		}
		for _, j := range r.Jobs {
			if j.Outcome == "error" {
				kinds = append(kinds, scenarios.RealErrorKind(&realpools.PyError{Class: j.Class, Message: j.Message}, phase))
			}
		}
		for _, k := range m.ErrorKinds() {
			if slices.Contains(kinds, k) {
				return true, ""
			}
		}
		return false, "real error kinds " + joinKinds(kinds)
	}
	return false, "no verdict"
}

func poolStrategy(name string) pools.Strategy { return pools.Strategy(name) }

func joinKinds(ks []string) string { return "[" + strings.Join(ks, ", ") + "]" }
