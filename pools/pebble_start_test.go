package pools_test

import (
	"context"
	"errors"
	"testing"

	"github.com/poolhang/poolhang/pools"
)

// pebble 5.0 starts its workers and loops at the first schedule
// (_check_pool_state, _start_pool); the model does so when the pool has
// an initializer. Then every worker dies of it before taking a task, the
// pool manager's first inspection finds no task running and enters
// ERROR (find_expired_task: BrokenProcessPool("All workers expired"))
// without replacing anyone, and the jobs scheduled before it stay pending.
func TestPebbleStartsAtTheFirstSchedule(t *testing.T) {
	for _, tc := range []struct {
		name      string
		init      bool
		schedules int                                     // Submits before the caller waits
		end       func(context.Context, pools.Pool) error // then, on a pool never scheduled on
		atStart   int                                     // workers before any schedule
	}{
		{name: "no initializer: the workers start with the pool", atStart: 2},
		{name: "an initializer: the first schedule starts them", init: true, schedules: 3},
		{name: "closed, then joined, before any schedule", init: true, end: func(c context.Context, p pools.Pool) error {
			p.Close()
			return p.Join(c)
		}},
		{name: "stop() then join() before any schedule", init: true, end: func(c context.Context, p pools.Pool) error {
			return p.(pools.Terminator).CallTerminate(c)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pools.Start(pools.Pebble, pools.Options{Workers: 2, InitFails: tc.init})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Terminate()
			if n := len(workerPIDs(p.Snapshot())); n != tc.atStart {
				t.Fatalf("%d workers before any schedule, want %d", n, tc.atStart)
			}
			if tc.end != nil {
				if err := tc.end(ctx(t), p); err != nil {
					t.Fatal(err)
				}
				if s := p.Snapshot(); len(s.Parties) > 1 {
					t.Errorf("a pool ended before any schedule started %+v", s.Parties)
				}
				return
			}
			if !tc.init {
				return
			}
			var fs []*pools.Future
			for i := range tc.schedules {
				f, err := p.Submit(ctx(t), pools.Square(int64(i)))
				if err != nil {
					t.Fatalf("schedule %d, before the pool manager's next turn: %v", i, err)
				}
				fs = append(fs, f)
			}
			c, cancel := context.WithCancel(ctx(t))
			waited := make(chan error, 1)
			go func() { _, err := fs[0].Wait(c); waited <- err }()
			s := until(t, p, "the pool in ERROR", func(s pools.Snapshot) bool {
				mgr, ok := s.PartyByID("pool manager")
				msg, _ := s.PartyByID("message manager")
				return ok && mgr.Done && msg.Done
			})
			cancel()
			if err := <-waited; !errors.Is(err, context.Canceled) {
				t.Errorf("the wait for job 0 ended with %v, want it left waiting until cancelled", err)
			}
			started := 0
			for _, w := range s.Parties {
				if w.Worker {
					started++
					if w.Exit != nil && (w.Exit.Signal != 0 || w.Exit.Code != 1) {
						t.Errorf("worker %d: %v, want exit code 1 (os._exit(1) after run_initializer)", w.PID, w.Exit)
					}
				}
			}
			if started != 2 {
				t.Errorf("%d workers started, want 2: ERROR comes before create_workers", started)
			}
			for i, f := range fs {
				if r, ok := f.Result(); ok {
					t.Errorf("job %d answered: %+v; in ERROR nothing sets a future", i, r)
				}
			}
			if _, err := p.Submit(ctx(t), pools.Square(9)); !errors.Is(err, pools.ErrPebbleError) {
				t.Errorf("a schedule in ERROR: %v, want %v", err, pools.ErrPebbleError)
			}
		})
	}
}

// A chunked map is a schedule too (ProcessPool.map schedules each chunk
// through _check_pool_state): on a pool with an initializer it starts
// the workers, which die in it, and the map waits for chunks no worker
// will take. Without the start it would wait on a pool that never ran.
func TestPebbleChunkedMapStartsThePool(t *testing.T) {
	p, err := pools.Start(pools.Pebble, pools.Options{Workers: 2, InitFails: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	c, cancel := context.WithCancel(ctx(t))
	done := make(chan error, 1)
	go func() {
		_, err := p.(pools.ChunkMapper).MapChunks(c, []pools.Task{pools.Square(1), pools.Square(2), pools.Square(3)}, 2)
		done <- err
	}()
	until(t, p, "both workers started and dead of the initializer", func(s pools.Snapshot) bool {
		dead := 0
		for _, w := range s.Parties {
			if w.Worker && w.Exit != nil && w.Exit.Code == 1 {
				dead++
			}
		}
		return dead == 2
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the chunked map ended with %v, want it left waiting until cancelled", err)
	}
}
