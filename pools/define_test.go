package pools_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/poolhang/poolhang/pools"
)

// TestDefinitions: the matrix's four strategies come first, in its
// order, and every registered definition is complete and is what the
// lookups answer.
func TestDefinitions(t *testing.T) {
	want := []pools.Strategy{pools.Naive, pools.Respawn, pools.FailFast, pools.Tracked}
	got := pools.Strategies()
	if len(got) < len(want) {
		t.Fatalf("Strategies() = %v, want %v first", got, want)
	}
	for i, s := range want {
		if got[i] != s {
			t.Fatalf("Strategies() = %v, want %v first (the matrix's order)", got, want)
		}
	}
	for _, s := range got {
		d, err := pools.Lookup(s)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != s || d.Models == "" || d.Follows == "" || len(d.Functions) == 0 || d.Start == nil {
			t.Errorf("%s: incomplete definition %+v", s, d)
		}
		if s.Follows() != d.Follows || s.SharedQueues() != d.SharedQueues {
			t.Errorf("%s: the lookups disagree with the definition", s)
		}
	}
	if _, err := pools.ParseStrategy("bogus"); err == nil || !strings.Contains(err.Error(), "naive, respawn, failfast, tracked") {
		t.Errorf("ParseStrategy(bogus): %v, want the allowed names in order", err)
	}
}

// TestUnsupportedOptionsAreRefused: an option a strategy does not take is
// an error naming it and the strategies that take it, not ignored.
func TestUnsupportedOptionsAreRefused(t *testing.T) {
	cases := []struct {
		o    pools.Options
		name string
	}{
		{pools.Options{Workers: 1, TaskTimeout: time.Second}, "TaskTimeout"},
		{pools.Options{Workers: 1, Retries: 1}, "Retries"},
		{pools.Options{Workers: 1, RestartBudget: 3}, "RestartBudget"},
	}
	for _, s := range pools.Strategies() {
		for _, c := range cases {
			p, err := pools.Start(s, c.o)
			if s.Supports(pools.Option(c.name)) {
				if err != nil {
					t.Errorf("%s with %s: %v", s, c.name, err)
				} else {
					p.Terminate()
				}
				continue
			}
			if err == nil {
				p.Terminate()
				t.Errorf("%s took %s, which it does not support", s, c.name)
			} else if !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), "tracked") {
				t.Errorf("%s with %s: %v, want the option and the strategies that take it named", s, c.name, err)
			}
		}
	}
	if _, err := pools.Start(pools.Tracked, pools.Options{Workers: 1, TaskTimeout: -time.Second}); err == nil {
		t.Error("a negative TaskTimeout was taken")
	}
}

// TestSubmitHonoursContext: a job whose context has ended before it is
// admitted is not queued; Map reports the context's error.
func TestSubmitHonoursContext(t *testing.T) {
	for _, s := range strategies(t) {
		t.Run(string(s), func(t *testing.T) {
			p, err := pools.Start(s, pools.Options{Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Terminate()
			done, cancel := context.WithCancel(context.Background())
			cancel()
			if f, err := p.Submit(done, pools.Square(3)); !errors.Is(err, context.Canceled) || f != nil {
				t.Fatalf("Submit on an ended context: %v, %v; want context.Canceled and no future", f, err)
			}
			rs, err := p.Map(done, squares(3))
			if !errors.Is(err, context.Canceled) || len(rs) != 3 || !errors.Is(rs[0].Err, context.Canceled) {
				t.Fatalf("Map on an ended context: %v, %v", rs, err)
			}
			if n := len(p.Snapshot().Pending); n != 0 {
				t.Fatalf("%d jobs admitted on an ended context", n)
			}
			f, err := p.Submit(ctx(t), pools.Square(3))
			if err != nil {
				t.Fatal(err)
			}
			if r, err := f.Wait(ctx(t)); err != nil || r.Err != nil {
				t.Fatalf("the pool after refusals: %v %v", r.Err, err)
			}
		})
	}
}
