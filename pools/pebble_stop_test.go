package pools_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// pebble's stop() then join() (CallTerminate) ends the pool without
// setting any pending future (pebble 5.0 sets none on stop): the worker
// holding job 0 ends by stop_process's SIGTERM, or, stopped and so deaf
// to it, by its SIGKILL after join(3); the idle worker ends at the end
// of file of the closed channel (exit 0) or by the SIGTERM.
func TestPebbleStopJoin(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault string // job 0's, at task-run
		sig   syscall.Signal
	}{
		{"a stuck task", "stuck", syscall.SIGTERM},
		{"a stopped worker", "sigstop", syscall.SIGKILL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, leftNothing := startTwo(t, pools.Pebble)
			defer p.Terminate()
			f0, err := p.Submit(ctx(t), withFault(pools.Square(3), tc.fault, faults.TaskRun))
			if err != nil {
				t.Fatal(err)
			}
			f1, err := p.Submit(ctx(t), pools.Square(4))
			if err != nil {
				t.Fatal(err)
			}
			if r, err := f1.Wait(ctx(t)); err != nil || r.Err != nil {
				t.Fatalf("job 1: %+v, %v", r, err)
			}
			holder := waitFor(t, p, func(s pools.Snapshot) int {
				for _, w := range s.Parties {
					if w.Worker && w.Exit == nil && w.Job == 0 && (w.Phase == string(faults.TaskRun) || w.Stopped != "") {
						return w.PID
					}
				}
				return 0
			})
			if err := p.(pools.Terminator).CallTerminate(ctx(t)); err != nil {
				t.Fatalf("stop() then join(): %v", err)
			}
			if r, ok := f0.Result(); ok {
				t.Errorf("job 0 was answered by stop(): %+v; pebble 5.0 sets no pending future", r)
			}
			s := p.Snapshot()
			w, ok := s.Worker(holder)
			if !ok || w.Exit == nil || w.Exit.Signal != tc.sig {
				t.Errorf("job 0's worker %d: %+v, want it ended by %v", holder, w.Exit, tc.sig)
			}
			for _, w := range s.Parties {
				if w.Worker && w.PID != holder && w.Exit != nil && w.Exit.Signal == 0 && w.Exit.Code != 0 {
					t.Errorf("idle worker %d: %+v, want exit 0 (end of file) or SIGTERM", w.PID, w.Exit)
				}
			}
			p.Terminate()
			leftNothing()
		})
	}
}

// A death inside the writer mutex (result-encode, result-write) comes
// before any later job is taken (pools/pebble_strike.go: the struck
// worker keeps the reader mutex from its ACK until it has the writer
// mutex): the earlier jobs are answered, the struck one fails with
// ProcessExpired, and every later one waits behind the dead holder.
func TestPebbleStrikeInWriterBeforeLaterJobs(t *testing.T) {
	for _, ph := range []faults.Phase{faults.ResultEncode, faults.ResultWrite} {
		t.Run(string(ph), func(t *testing.T) {
			p, err := pools.Start(pools.Pebble, pools.Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Terminate()
			var fs []*pools.Future
			for i := range 6 {
				task := pools.Square(int64(i))
				if i == 2 {
					task = withFault(task, "segfault", ph) // the worker's own SIGSEGV
				}
				f, err := p.Submit(ctx(t), task)
				if err != nil {
					t.Fatal(err)
				}
				fs = append(fs, f)
			}
			for i, f := range fs[:3] {
				r, err := f.Wait(ctx(t))
				var lost *pools.WorkerLost
				if err != nil || (i < 2) != (r.Err == nil) || (i == 2 && !errors.As(r.Err, &lost)) {
					t.Fatalf("job %d: %+v, %v; want a value before job 2, ProcessExpired (WorkerLost) at it", i, r, err)
				}
			}
			until(t, p, "every live worker blocked behind the dead writer", func(s pools.Snapshot) bool {
				live := 0
				for _, w := range s.Parties {
					if w.Worker && w.Exit == nil {
						live++
						if w.Wait == nil || w.Wait.Kind != pools.WaitLock || w.Wait.Ready {
							return false
						}
					}
				}
				return live == 2 // the other worker and the replacement
			})
			for i, f := range fs[3:] {
				if r, ok := f.Result(); ok {
					t.Errorf("job %d, after the struck job, was answered: %+v", i+3, r)
				}
			}
		})
	}
}
