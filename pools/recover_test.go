package pools_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolhang/poolhang/pools"
)

// billiard's grace and loky's recovery are options: refused, naming who
// takes them, by a strategy that does not; a negative grace is refused.
func TestGraceAndRecoverAreOptions(t *testing.T) {
	cases := []struct {
		o     pools.Options
		name  string
		takes []pools.Strategy
	}{
		{pools.Options{Workers: 1, LostWorkerTimeout: time.Second}, "LostWorkerTimeout", []pools.Strategy{pools.Billiard}},
		{pools.Options{Workers: 1, Recover: true}, "Recover", []pools.Strategy{pools.FailFast, pools.Loky}},
	}
	for _, c := range cases {
		for _, s := range pools.Strategies() {
			p, err := pools.Start(s, c.o)
			takes := false
			for _, x := range c.takes {
				takes = takes || x == s
			}
			switch {
			case takes && err != nil:
				t.Errorf("%s with %s: %v", s, c.name, err)
			case takes:
				p.Terminate()
			case err == nil:
				p.Terminate()
				t.Errorf("%s took %s", s, c.name)
			case !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), string(c.takes[0])):
				t.Errorf("%s with %s: %v, want the option and who takes it named", s, c.name, err)
			}
		}
	}
	if _, err := pools.Start(pools.Billiard, pools.Options{Workers: 1, LostWorkerTimeout: -time.Second}); err == nil {
		t.Error("a negative LostWorkerTimeout was taken")
	}
}

// failfast with Recover, like loky, is a Reuser: after a worker death
// broke it, its submits fail until Reuse starts a fresh executor, whose
// jobs complete; Reuse on a pool that is not broken keeps it.
func TestReuseAfterABreak(t *testing.T) {
	for _, s := range []pools.Strategy{pools.Loky, pools.FailFast} {
		t.Run(string(s), func(t *testing.T) {
			p, err := pools.Start(s, pools.Options{Workers: 2, Recover: true})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Terminate()
			r, ok := p.(pools.Reuser)
			if !ok {
				t.Fatalf("%s with Recover is not a pools.Reuser", s)
			}
			if err := r.Reuse(ctx(t)); err != nil {
				t.Fatalf("Reuse on a sound pool: %v", err)
			}
			if rs, err := p.Map(ctx(t), squares(4)); err != nil || rs[3].Err != nil {
				t.Fatalf("map before the break: %v %v", err, rs)
			}
			pid := 0
			for _, w := range p.Snapshot().Parties {
				if w.Role == pools.RoleWorker && w.Exit == nil {
					pid = w.PID
					break
				}
			}
			if err := p.Signal(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				_, err := p.Submit(ctx(t), pools.Square(1))
				if errors.Is(err, pools.ErrBrokenPool) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the pool did not break after a worker was killed: %v", err)
				}
				time.Sleep(time.Millisecond)
			}
			if err := r.Reuse(ctx(t)); err != nil {
				t.Fatal(err)
			}
			rs, err := p.Map(ctx(t), squares(6))
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range rs {
				if v, err := pools.Int(r.Value); r.Err != nil || err != nil || v != int64(i*i) {
					t.Fatalf("job %d after Reuse: %v %v", i, r.Err, err)
				}
			}
		})
	}
	if p, err := pools.Start(pools.FailFast, pools.Options{Workers: 1}); err != nil {
		t.Fatal(err)
	} else {
		defer p.Terminate()
		if _, ok := p.(pools.Reuser); ok {
			t.Error("failfast without Recover is a Reuser: a broken ProcessPoolExecutor stays broken")
		}
	}
}
