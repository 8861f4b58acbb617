package pools_test

import (
	"errors"
	"testing"
	"time"

	"github.com/poolhang/poolhang/pools"
)

// billiard's workers retire with EX_RECYCLE, and a retirement marks lost
// every call whose worker_pids include the retired pid: a map that
// outlives the grace after a retirement fails with WorkerLost though no
// worker died (billiard 4.1 raised "Worker exited prematurely: exitcode
// 155" for such a map after 11.4 s). Here the grace is a nanosecond and
// each worker runs one task, so the map cannot finish: each of its
// later jobs needs a replacement, which only the worker handler starts,
// and each of its passes first fails the calls whose grace has passed.
func TestBilliardRetirementMarksTheMapLost(t *testing.T) {
	p, err := pools.Start(pools.Billiard, pools.Options{Workers: 2, MaxTasks: 1, LostWorkerTimeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	rs, err := p.Map(ctx(t), squares(6))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		var wl *pools.WorkerLost
		if !errors.As(r.Err, &wl) {
			t.Fatalf("job %d: %v, %v; want WorkerLost", i, r.Value, r.Err)
		}
		// `exitcodes.get(acked_by_gone) or 0`: the retired worker's
		// EX_RECYCLE if it was cleaned in the pass that marked the map,
		// else 0; never a signal, since none was sent.
		if wl.Status != (pools.Exit{Code: 155}) && wl.Status != (pools.Exit{}) {
			t.Errorf("job %d: WorkerLost names %v, want exit code 155 or 0", i, wl.Status)
		}
	}
	retired := 0
	for _, w := range p.Snapshot().Parties {
		if w.Worker && w.Exit != nil {
			if *w.Exit != (pools.Exit{Code: 155}) {
				t.Errorf("worker %d ended with %v, want exit code 155 (EX_RECYCLE)", w.Slot, *w.Exit)
			}
			retired++
		}
	}
	if retired == 0 {
		t.Error("no worker has retired")
	}
}
