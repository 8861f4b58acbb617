package scenarios_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/scenarios"
)

func TestCallStylesParse(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"pool=respawn workers=2 jobs=6 wait=shutdown", "multiprocessing.Pool has no shutdown()"},
		{"pool=py:mp.Pool workers=2 jobs=6 wait=shutdown-cancel", "py:mp.Pool takes wait=map, get, join, callback, imap, imap_unordered, terminate"},
		{"pool=failfast workers=2 jobs=6 wait=terminate", "wait=shutdown-cancel"},
		{"pool=py:ProcessPoolExecutor workers=2 jobs=6 wait=terminate", "no terminate()"},
		{"pool=py:pebble workers=2 jobs=6 wait=shutdown", "stop() then join() is wait=terminate"},
		{"pool=naive workers=2 jobs=6 wait=kill", "allowed: map, get, join, callback, imap, imap_unordered, terminate, shutdown, shutdown-cancel"},
		{"pool=naive workers=2 jobs=6 chunksize=2 wait=terminate", "submits each job alone"},
	} {
		_, err := scenarios.Parse(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 400 {
			t.Errorf("Parse(%q) = %v, want a short error containing %q", tc.text, err, tc.want)
		}
	}
	for _, text := range []string{
		"pool=naive workers=2 jobs=6 wait=terminate fault=segfault@idle-lock-holder",
		"pool=failfast workers=2 jobs=6 wait=shutdown fault=sigkill@result-write:2",
		"pool=tracked workers=2 jobs=6 deadline=500ms wait=shutdown-cancel fault=stuck@task-run:2",
		"pool=py:loky workers=2 jobs=6 wait=terminate fault=sigkill@task-run:2",
		"pool=py:ProcessPoolExecutor workers=2 jobs=6 wait=shutdown-cancel",
	} {
		sc, err := scenarios.Parse(text)
		if err != nil || sc.String() != text {
			t.Errorf("%q parsed as %q, %v", text, sc, err)
		}
	}
	scs, err := scenarios.ReadReplay(strings.NewReader("# ending styles\npool=respawn workers=1 jobs=1 wait=terminate\npool=failfast workers=1 jobs=1 wait=shutdown-cancel\n"))
	if err != nil || len(scs) != 2 || scs[1].Wait != scenarios.WaitShutdownCancel {
		t.Errorf("ReadReplay = %v, %v", scs, err)
	}
}

// Every section's cells run on the real pools too (the lead runs them
// generically): the shape and the n/a reason must work on py: names.
func TestCallStyleSectionsOnRealPools(t *testing.T) {
	for _, name := range []string{"terminate", "shutdown", "shutdown-cancel"} {
		s, err := scenarios.LookupSection(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"py:mp.Pool", "py:ProcessPoolExecutor", "py:billiard", "py:loky", "py:pebble"} {
			sc := s.Shape(scenarios.Scenario{Pool: "x", Workers: 2, Jobs: 6, Wait: scenarios.WaitMap})
			sc.Pool = pools.Strategy(p)
			na := s.NA(sc.Pool)
			err := sc.Validate()
			if (na == "") != (err == nil) {
				t.Errorf("section %s, %s: n/a %q but Validate says %v", name, p, na, err)
			}
		}
	}
}

// shutdown(wait=False, cancel_futures=True) cancels what is not running:
// with both workers stuck on jobs 0 and 1, the call queue (max_workers +
// EXTRA_QUEUED_CALLS = 3 deep) holds 2, 3 and 4 at the most, so 5, 6 and
// 7 are cancelled, and result() on job 0 waits forever.
func TestShutdownCancelCancelsWhatIsNotRunning(t *testing.T) {
	sc, err := scenarios.Parse(twoStuck)
	if err != nil {
		t.Fatal(err)
	}
	o := run(t, sc)
	if o.Verdict != scenarios.Hang {
		t.Fatalf("%s: %s, want hang: %s", sc, o.Verdict, o.Diagnosis)
	}
	if got, want := cancelled(o), []int{5, 6, 7}; !slices.Equal(got, want) {
		t.Errorf("%s: cancelled %v, want %v: %s", sc, got, want, o.Diagnosis)
	}
}

const twoStuck = "pool=failfast workers=2 jobs=8 wait=shutdown-cancel fault=stuck@task-run:0 fault=stuck@task-run:1"

func cancelled(o scenarios.Outcome) []int {
	var out []int
	for _, j := range o.Jobs {
		if j.Kind == scenarios.ErrKindCancelled {
			out = append(out, j.Job)
		}
	}
	return out
}
