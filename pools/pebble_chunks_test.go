package pools_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// What a job's result is, for the pebble tables.
type want int

const (
	wantValue want = iota // its square
	wantTask              // a TaskError (the function raised)
	wantExit              // WorkerLost, exit code 2 (SystemExit(2) escaped)
	wantSegv              // WorkerLost by SIGSEGV
)

func checkResult(t *testing.T, job int, r pools.Result, w want) {
	t.Helper()
	var te *pools.TaskError
	var wl *pools.WorkerLost
	switch w {
	case wantValue:
		if n, err := pools.Int(r.Value); r.Err != nil || err != nil || n != int64(job*job) {
			t.Errorf("job %d: %v, %v; want %d", job, r.Value, r.Err, job*job)
		}
	case wantTask:
		if !errors.As(r.Err, &te) {
			t.Errorf("job %d: %v; want a TaskError", job, r.Err)
		}
	case wantExit:
		if !errors.As(r.Err, &wl) || wl.Status.Signal != 0 || wl.Status.Code != 2 {
			t.Errorf("job %d: %v; want WorkerLost (ProcessExpired) with exit code 2", job, r.Err)
		}
	case wantSegv:
		if !errors.As(r.Err, &wl) || wl.Status.Signal != syscall.SIGSEGV {
			t.Errorf("job %d: %v; want WorkerLost (ProcessExpired) by SIGSEGV", job, r.Err)
		}
	}
}

// startWith starts pool s with o, terminated when the test ends, and
// makes jobs squaring tasks, job i with the trigger at[i].
func startWith(t *testing.T, s pools.Strategy, o pools.Options, jobs int, at map[int]pools.Trigger) (pools.Pool, []pools.Task) {
	t.Helper()
	p, err := pools.Start(s, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Terminate() })
	ts := make([]pools.Task, jobs)
	for i := range ts {
		ts[i] = pools.Square(int64(i))
		if tr, ok := at[i]; ok {
			ts[i].Triggers = []pools.Trigger{tr}
		}
	}
	return p, ts
}

// pebble's MapChunks follows ProcessPool.map(chunksize=N) (pebble 5.0):
// each chunk is one task whose worker runs process_chunk; MapResults
// raises at the first job whose item is an error, and a chunk whose
// worker died (ProcessExpired) raises at its first job. Every job after
// the one it raises at carries that error, as the caller never reaches
// it.
func TestPebbleMapChunks(t *testing.T) {
	trig := func(kind string, ph faults.Phase) pools.Trigger { return trigger(t, kind, ph) }
	v, task, exit, segv := wantValue, wantTask, wantExit, wantSegv
	for _, c := range []struct {
		name      string
		chunksize int
		faults    map[int]pools.Trigger
		want      []want
	}{
		{"no failure", 3, nil, []want{v, v, v, v, v, v}},
		{"no failure, a short last chunk", 4, nil, []want{v, v, v, v, v, v}},
		{"chunks of one are map's default", 1, map[int]pools.Trigger{2: trig("raise", faults.TaskRun)}, []want{v, v, task, task, task, task}},
		{"raise in the first chunk's last job: raised there", 3, map[int]pools.Trigger{2: trig("raise", faults.TaskRun)}, []want{v, v, task, task, task, task}},
		{"raise in the second chunk", 3, map[int]pools.Trigger{4: trig("raise", faults.TaskRun)}, []want{v, v, v, v, task, task}},
		{"sys-exit ends the worker: raised at its chunk's first job", 3, map[int]pools.Trigger{2: trig("sys-exit", faults.TaskRun)}, []want{exit, exit, exit, exit, exit, exit}},
		{"a death fails its chunk", 3, map[int]pools.Trigger{2: trig("segfault", faults.TaskRun)}, []want{segv, segv, segv, segv, segv, segv}},
		{"a death in the second chunk", 3, map[int]pools.Trigger{4: trig("segfault", faults.TaskRun)}, []want{v, v, v, segv, segv, segv}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ts := startWith(t, pools.Pebble, pools.Options{Workers: 2}, len(c.want), c.faults)
			out, err := p.(pools.ChunkMapper).MapChunks(ctx(t), ts, c.chunksize)
			if err != nil {
				t.Fatalf("MapChunks: %v", err)
			}
			for i, r := range out {
				checkResult(t, i, r, c.want[i])
			}
		})
	}
}

// Past the job the caller raises at: process_chunk catches each job's
// Exception (process_execute) and runs the jobs after it, so every job
// has its own item; SystemExit or a death fails the whole chunk, and the
// other chunk is answered.
func TestPebbleChunkJobsOwnResults(t *testing.T) {
	trig := func(kind string, ph faults.Phase) pools.Trigger { return trigger(t, kind, ph) }
	v, task, exit, segv := wantValue, wantTask, wantExit, wantSegv
	for _, c := range []struct {
		name   string
		faults map[int]pools.Trigger
		want   []want
	}{
		{"raise: the jobs after it run", map[int]pools.Trigger{1: trig("raise", faults.TaskRun)}, []want{v, task, v, v, v, v}},
		{"raise twice in one chunk", map[int]pools.Trigger{3: trig("raise", faults.TaskRun), 5: trig("raise", faults.TaskRun)}, []want{v, v, v, task, v, task}},
		{"sys-exit: the chunk fails", map[int]pools.Trigger{1: trig("sys-exit", faults.TaskRun)}, []want{exit, exit, exit, v, v, v}},
		{"a death: the chunk fails", map[int]pools.Trigger{4: trig("segfault", faults.TaskRun)}, []want{v, v, v, segv, segv, segv}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ts := startWith(t, pools.Pebble, pools.Options{Workers: 2}, len(c.want), c.faults)
			fs, err := pools.PebbleChunkFutures(ctx(t), p, ts, 3)
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range fs {
				r, err := f.Wait(ctx(t))
				if err != nil {
					t.Fatalf("job %d: %v", i, err)
				}
				checkResult(t, i, r, c.want[i])
			}
		})
	}
}
