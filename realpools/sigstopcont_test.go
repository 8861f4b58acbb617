package realpools_test

import (
	"testing"

	"github.com/poolhang/poolhang/realpools"
)

// sigstop-cont on every real pool: the driver continues the stopped worker
// once it is T, every other worker is blocked and nothing has moved, and
// no pool has given up on it by then: every job is answered late.
var contCells = []cell{
	{"py:mp.Pool", "sigstop-cont@task-run:2", realpools.Completed, "",
		"_join_exited_workers (3.11) replaces only workers with an exitcode, and Pool has no per-task timeout: it waits, and the continued worker put()s job 2's result"},
	{"py:mp.Pool", "sigstop-cont@result-write:2", realpools.Completed, "",
		"_handle_results waits in recv for the rest of job 2's frame; the continued worker's _send writes it"},
	{"py:ProcessPoolExecutor", "sigstop-cont@task-run:2", realpools.Completed, "",
		"wait_result_broken_or_wakeup breaks the pool only on a sentinel, which a stopped worker does not fire"},
	{"py:billiard", "sigstop-cont@task-run:2", realpools.Completed, "",
		"billiard applies time limits only with soft_timeout/timeout set, and _join_exited_workers sees no exit"},
	{"py:loky", "sigstop-cont@idle-lock-holder", realpools.Completed, "",
		"the continue comes long before loky's 10 s idle timeout, so the worker blocked on the call queue's read lock never gives up (where sigstop is n/a)"},
	{"py:pebble", "sigstop-cont@task-run:2", realpools.Completed, "",
		"update_tasks enforces only a schedule timeout, which map does not set, and inspect_workers sees no expiry"},
}

func TestSigstopContCells(t *testing.T) {
	t.Parallel()
	a := available(t)
	var cells []cell
	for _, c := range contCells {
		if st := a.PoolStatus[c.pool]; st.OK {
			cells = append(cells, c)
		} else {
			t.Logf("SKIP %s: %s does not import (%s); install it with %s", c.scenario(), c.pool, st.Error, realpools.Install)
		}
	}
	got := runAll(t, cells)
	check(t, cells, got)
	for i, c := range cells {
		var continued bool
		for _, s := range got[i].o.Struck {
			if s.Kind == "sigstop-cont" && s.Continued != nil && *s.Continued && s.StateBefore == "T" {
				continued = true
			}
		}
		if !continued {
			t.Errorf("%s: no strike says the worker was continued from state T: %+v", c.scenario(), got[i].o.Struck)
		}
	}
}
