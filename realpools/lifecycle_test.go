package realpools_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/poolhang/poolhang/realpools"
)

// The driver's own checks of the pool options: a bad value is bad input,
// and an option a pool has no argument for is n/a with the reason.
func TestPoolOptionsBadInput(t *testing.T) {
	python(t)
	ctx := context.Background()
	for _, tc := range []struct {
		scenario string
		want     error
		says     string
	}{
		{"pool=py:mp.Pool workers=2 jobs=6 maxtasks=0", realpools.ErrBadScenario, "maxtasks=0, allowed 1 to 4096"},
		{"pool=py:mp.Pool workers=2 jobs=6 maxtasks=many", realpools.ErrBadScenario, "not a whole number"},
		{"pool=py:mp.Pool workers=2 jobs=6 initializer=ok", realpools.ErrBadScenario, "allowed raise"},
		{"pool=py:mp.Pool workers=2 jobs=6 chunksize=3 wait=get", realpools.ErrBadScenario, "imap's argument"},
		{"pool=py:ProcessPoolExecutor workers=2 jobs=6 chunksize=3 wait=imap", realpools.ErrNotApplicable, "has no imap"},
		{"pool=py:loky workers=2 jobs=6 maxtasks=2", realpools.ErrNotApplicable, "no tasks-per-worker limit"},
	} {
		_, err := realpools.Run(ctx, tc.scenario, realpools.Options{Stall: realpools.MinStall})
		if errors.Is(err, realpools.ErrMissingModule) {
			t.Logf("SKIP %q: %v", tc.scenario, err)
			continue
		}
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: got error %v, want %v saying %q", tc.scenario, err, tc.want, tc.says)
		}
	}
}

// mp.Pool with an initializer that raises restarts its workers forever
// (python/cpython issue 87472): no answer, and every worker it started
// died in the initializer but the 2 it holds now, which are starting.
func TestInitializerRestartsForever(t *testing.T) {
	python(t)
	o, err := realpools.Run(context.Background(), "pool=py:mp.Pool workers=2 jobs=6 initializer=raise wait=map", realpools.Options{Stall: realpools.MinStall})
	if err != nil {
		t.Fatal(err)
	}
	if o.Verdict != realpools.NoAnswer || o.InitFailures <= 2 || o.InitFailures+2 < o.WorkersStarted {
		t.Errorf("%s: %d workers started, %d died in the initializer; want no answer, and every worker dead of it but the 2 last started", o.Summary(), o.WorkersStarted, o.InitFailures)
	}
}
