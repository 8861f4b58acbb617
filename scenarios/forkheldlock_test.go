package scenarios_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// The hang is proven from state: every worker waits on its copy of a
// lock whose holder is a thread that does not exist in it, and nothing
// could release it.
func TestForkHeldLockHangIsProvenFromState(t *testing.T) {
	for _, s := range []pools.Strategy{pools.Naive, pools.Respawn, pools.FailFast} {
		t.Run(string(s), func(t *testing.T) {
			o := run(t, scenarios.Standard(s, "fork-held-lock", faults.WorkerStart))
			if o.Verdict != scenarios.Hang || !slices.Contains(o.Causes, scenarios.CauseInheritedLock) {
				t.Fatalf("%s, causes %v; want a hang caused by %s: %s", o.Verdict, o.Causes, scenarios.CauseInheritedLock, o.Diagnosis)
			}
			n := 0
			for _, w := range o.Final.Parties {
				if w.Role != pools.RoleWorker || w.Wait == nil || w.Wait.Lock != pools.InheritedLock {
					continue
				}
				n++
				if len(w.Wait.Releasers) != 0 || w.Wait.Ready {
					t.Errorf("worker %d: releasers %v, ready %v; want none and not ready", w.PID, w.Wait.Releasers, w.Wait.Ready)
				}
				// The holder is a thread of the parent: not one of the
				// worker's (they are /proc/PID/task/TID).
				if _, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d", os.Getpid(), w.Wait.Holder)); err != nil {
					t.Errorf("holder %d is not a thread of the parent: %v", w.Wait.Holder, err)
				}
				if w.Wait.Holder == w.PID {
					t.Errorf("worker %d holds its own inherited lock", w.PID)
				}
			}
			if n != 2 {
				t.Errorf("%d workers blocked on an inherited lock, want both: %s", n, o.Diagnosis)
			}
		})
	}
}

// tracked's start deadline: without a deadline it hangs like the others;
// with one, the blocked workers are killed and replaced by clean ones,
// even when they hold no job and the caller joins.
func TestTrackedStartDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want scenarios.Verdict
	}{
		{"pool=tracked workers=2 jobs=6 wait=map fault=fork-held-lock@worker-start", scenarios.Hang},
		{"pool=tracked workers=2 jobs=6 deadline=200ms wait=get fault=fork-held-lock@worker-start", scenarios.Completed},
		{"pool=tracked workers=2 jobs=0 deadline=200ms wait=join fault=fork-held-lock@worker-start", scenarios.Completed},
		{"pool=tracked workers=3 jobs=1 deadline=200ms wait=join fault=fork-held-lock@worker-start", scenarios.Completed},
	} {
		sc, err := scenarios.Parse(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		o := run(t, sc)
		if o.Verdict != tc.want {
			t.Errorf("%s: %s, want %s: %s", sc, o.Verdict, tc.want, o.Diagnosis)
		}
	}
}

func TestForkHeldLockBadInput(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"pool=naive workers=2 jobs=6 fault=fork-held-lock@worker-start:2", "drop the :2"},
		{"pool=naive workers=2 jobs=6 fault=fork-held-lock@task-run:2", "fork-held-lock strikes at: worker-start"},
		{"pool=naive workers=2 jobs=6 fault=segfault@worker-start", "segfault strikes at:"},
		{"pool=naive workers=2 jobs=6 fault=fork-held-lock@worker-start fault=fork-held-lock@worker-start", "at most one"},
		{"pool=naive workers=2 jobs=6 start=fork", "the models' workers are re-executed"},
		{"pool=naive workers=2 jobs=6 fault=fork-held-lock@worker-start fault=sigkill@idle-lock-waiter", "never idle"},
		{"pool=py:mp.Pool workers=2 jobs=6 start=vfork", "allowed: fork, forkserver, spawn"},
	} {
		_, err := scenarios.Parse(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
	sc, err := scenarios.Parse("pool=py:mp.Pool workers=2 jobs=6 start=spawn wait=map fault=fork-held-lock@worker-start")
	if err != nil || sc.Start != "spawn" {
		t.Fatalf("start=spawn: %+v, %v", sc, err)
	}
	if back, err := scenarios.Parse(sc.String()); err != nil || back.String() != sc.String() {
		t.Errorf("%s does not round-trip: %v", sc, err)
	}
}

// Which start method avoids the inherited lock, on the real pools that
// have a model: under fork the workers inherit it held and the caller
// gets no answer (as the models, whose column is the default, fork);
// forkserver and spawn start them from a fresh interpreter, so they
// find it free and every job completes.
func TestForkHeldLockStartMethods(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("SKIP real pools under -short")
	}
	if _, err := realpools.FindPython(); err != nil {
		t.Skipf("SKIP real pools: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for _, pool := range []string{"py:mp.Pool", "py:ProcessPoolExecutor"} {
		for _, start := range scenarios.StartMethods {
			want := realpools.Completed
			if start == "fork" {
				want = realpools.NoAnswer
			}
			t.Run(pool+"/"+start, func(t *testing.T) {
				sc, err := scenarios.Parse(fmt.Sprintf("pool=%s workers=2 jobs=6 start=%s wait=map fault=fork-held-lock@worker-start", pool, start))
				if err != nil {
					t.Fatal(err)
				}
				// A fixed stall limit rather than a calibration: the
				// forkserver and spawn starts go through a process the
				// driver's starvation gauge does not watch (the fork
				// server), and a calibration run starved under go test's
				// load was taken for a no-answer.
				o, err := scenarios.RunReal(ctx, sc, realpools.Options{Stall: 6 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				if o.Verdict != want {
					t.Fatalf("%s, want %s: %s", o.Verdict, want, strings.Join(scenarios.RealEvidence(o, 2, true), "; "))
				}
				if fl := o.ForkLock; want == realpools.NoAnswer && (fl == nil || len(fl.Blocked) != 2 || fl.HolderInWorker || !fl.Released) {
					t.Errorf("fork-held-lock evidence %+v: want both workers blocked, the holder not in them, released in the parent", fl)
				}
			})
		}
	}
}
