package scenarios_test

import (
	"strings"
	"testing"

	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/scenarios"
)

// Where the models follow one CPython version's mechanism rather than
// another's (issue 9). Each case names the function it follows.

// ProcessPoolExecutor's manager reads the result itself once the result
// pipe is readable (_ExecutorManagerThread.wait_result_broken_or_wakeup:
// result_reader.recv(), the same from 3.6 to 3.13 and main). A worker that dies after
// writing part of a result frame leaves it in recv for good: it never
// looks at the sentinels again. A death before the frame starts breaks
// the pool.
func TestFailFastTornResultFrameHangs(t *testing.T) {
	for _, text := range []string{
		"pool=failfast workers=2 jobs=6 wait=map fault=sigkill@result-write:2",
		"pool=failfast workers=2 jobs=6 wait=get fault=segfault@result-write:2",
		"pool=failfast workers=2 jobs=3 payload=1048576 wait=map fault=sigkill@result-write:1",
	} {
		sc := parse(t, text)
		o := run(t, sc)
		if o.Verdict != scenarios.Hang {
			t.Errorf("%s: verdict %s, want hang (the manager blocks in recv on a torn frame): %s", sc, o.Verdict, o.Diagnosis)
			continue
		}
		if !contains(o.Stuck, "manager") || !contains(o.Stuck, "caller") {
			t.Errorf("%s: stuck = %v, want the manager and the caller", sc, o.Stuck)
		}
		if !containsCause(o.Causes, scenarios.CauseTornFrame) {
			t.Errorf("%s: causes %v lack %s: %s", sc, o.Causes, scenarios.CauseTornFrame, o.Diagnosis)
		}
		if !strings.Contains(o.Diagnosis, "the manager holds part of a frame") {
			t.Errorf("%s: diagnosis does not name the manager's torn frame: %s", sc, o.Diagnosis)
		}
		dead := 0
		for _, w := range o.Workers {
			if !w.Alive {
				dead++
				if !w.Zombie || w.Proc != "Z" {
					t.Errorf("%s: dead worker %d zombie=%v proc=%s, want a zombie: the manager never reaches the join", sc, w.PID, w.Zombie, w.Proc)
				}
			}
		}
		if dead != 1 {
			t.Errorf("%s: %d dead workers, want 1", sc, dead)
		}
	}
	// Killed while it encodes, before any byte is written: the pipe holds
	// nothing, the sentinel fires, the pool breaks.
	for _, text := range []string{
		"pool=failfast workers=2 jobs=6 wait=map fault=sigkill@result-encode:2",
		"pool=failfast workers=2 jobs=6 wait=map fault=segfault@result-encode:2",
	} {
		sc := parse(t, text)
		o := run(t, sc)
		if o.Verdict != scenarios.Raised || strings.Join(o.ErrorKinds(), ",") != scenarios.ErrKindBroken {
			t.Errorf("%s: verdict %s %v, want raised broken-pool: %s", sc, o.Verdict, o.ErrorKinds(), o.Diagnosis)
		}
	}
}

// Pool.map splits its jobs into chunks (Pool._map_async: chunksize =
// ceil(len / (4 * processes)) when none is given, in 2.6 and 3.x alike);
// each chunk is one task running mapstar, so a raise ends the chunk and a
// later fault in it never strikes.
func TestMapChunks(t *testing.T) {
	for _, tc := range []struct {
		text string
		want scenarios.Verdict
	}{
		// 8 jobs on 1 worker: chunks of 2. Job 0 raises; job 1's kill,
		// in the same chunk, never strikes.
		{"pool=respawn workers=1 jobs=8 wait=map fault=raise@task-run:0 fault=sigkill@task-run:1", scenarios.Raised},
		{"pool=naive workers=1 jobs=8 wait=map fault=raise@task-run:0 fault=sigkill@task-run:1", scenarios.Raised},
		// An explicit chunk size: chunks {0,1,2} and {3,4,5}.
		{"pool=respawn workers=2 jobs=6 chunksize=3 wait=map fault=raise@task-run:3 fault=sigkill@task-run:5", scenarios.Raised},
		// Chunk size 1: the kill strikes and job 5 is lost.
		{"pool=respawn workers=2 jobs=6 chunksize=1 wait=map fault=raise@task-run:3 fault=sigkill@task-run:5", scenarios.Hang},
		// A death ends the whole chunk: every job in it is lost.
		{"pool=respawn workers=2 jobs=6 chunksize=3 wait=map fault=sigkill@task-run:3", scenarios.Hang},
	} {
		sc := parse(t, tc.text)
		o := run(t, sc)
		if o.Verdict != tc.want {
			t.Errorf("%s: verdict %s, want %s: %s", sc, o.Verdict, tc.want, o.Diagnosis)
			continue
		}
		if tc.want == scenarios.Raised {
			for _, w := range o.Workers {
				if !w.Alive {
					t.Errorf("%s: worker %d died (%s); the kill shares a chunk with the raise and must never strike", sc, w.PID, w.Exit)
				}
			}
			// map raises the first error: no job has a value.
			if ok, _, unres := o.Count(); ok != 0 || unres != 0 {
				t.Errorf("%s: %d ok, %d unresolved; map raises, so every job carries its error", sc, ok, unres)
			}
		}
	}
	if got := pools.DefaultChunkSize(6, 2); got != 1 {
		t.Errorf("DefaultChunkSize(6, 2) = %d, want 1 (the standard cells)", got)
	}
	for _, tc := range []struct{ jobs, workers, want int }{{8, 1, 2}, {9, 1, 3}, {64, 8, 2}, {65, 8, 3}, {0, 2, 0}, {1, 8, 1}} {
		if got := pools.DefaultChunkSize(tc.jobs, tc.workers); got != tc.want {
			t.Errorf("DefaultChunkSize(%d, %d) = %d, want %d", tc.jobs, tc.workers, got, tc.want)
		}
	}
}

// 2.6's MapResult._set marks the whole map ready with the first error and
// drops it from the cache (2.7 too); 3.x waits for every chunk.
func TestMapReadyAtFirstFailure(t *testing.T) {
	for _, tc := range []struct {
		text string
		want scenarios.Verdict
	}{
		{"pool=naive workers=2 jobs=6 wait=map fault=raise@task-run:1 fault=sigkill@task-run:2", scenarios.Raised},
		{"pool=respawn workers=2 jobs=6 wait=map fault=raise@task-run:1 fault=sigkill@task-run:2", scenarios.Hang},
		// apply_async jobs are one ApplyResult each: the lost one hangs.
		{"pool=naive workers=2 jobs=6 wait=get fault=raise@task-run:1 fault=sigkill@task-run:2", scenarios.Hang},
	} {
		sc := parse(t, tc.text)
		o := run(t, sc)
		if o.Verdict != tc.want {
			t.Errorf("%s: verdict %s, want %s: %s", sc, o.Verdict, tc.want, o.Diagnosis)
			continue
		}
		if tc.want != scenarios.Raised {
			continue
		}
		for _, j := range o.Jobs {
			if j.State != scenarios.JobError || j.Kind != scenarios.ErrKindTask {
				t.Errorf("%s: job %d is %s %s, want the map's first error (job 1's)", sc, j.Job, j.State, j.Kind)
			}
		}
		if len(o.Evidence) != 0 {
			t.Errorf("%s: evidence of a hang %v, yet the lost job was answered by its map's failure", sc, o.Evidence)
		}
	}
}

func parse(t *testing.T, text string) scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func containsCause(cs []scenarios.Cause, c scenarios.Cause) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}
