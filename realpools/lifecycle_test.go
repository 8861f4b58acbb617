package realpools_test

import (
	"context"
	"testing"

	"github.com/poolhang/poolhang/realpools"
)

// mp.Pool with an initializer that raises restarts its workers forever
// (python/cpython issue 87472): no answer, and every worker it started
// died in the initializer but the 2 it holds now, which are starting.
func TestInitializerRestartsForever(t *testing.T) {
	t.Parallel()
	python(t)
	o, err := realpools.Run(context.Background(), "pool=py:mp.Pool workers=2 jobs=6 initializer=raise wait=map", realpools.Options{Stall: realpools.MinStall})
	if err != nil {
		t.Fatal(err)
	}
	if o.Verdict != realpools.NoAnswer || o.InitFailures <= 2 || o.InitFailures+2 < o.WorkersStarted {
		t.Errorf("%s: %d workers started, %d died in the initializer; want no answer, and every worker dead of it but the 2 last started", o.Summary(), o.WorkersStarted, o.InitFailures)
	}
}
