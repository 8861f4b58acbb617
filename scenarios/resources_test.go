package scenarios_test

import (
	"strings"
	"testing"

	"github.com/poolhang/poolhang/scenarios"
)

// A scenario that cannot fit is refused up front, with the figure, not
// run into an out-of-memory abort or a runtime that cannot make threads.
func TestScenariosThatCannotFitAreRefused(t *testing.T) {
	// Machine-independent: more than any scenario may use.
	_, err := scenarios.Parse("pool=tracked workers=64 jobs=4096 payload=67108864")
	if err == nil || !strings.Contains(err.Error(), "GiB of memory") {
		t.Errorf("256 GiB of payloads: err = %v, want a refusal with the figure", err)
	}
	small := scenarios.Machine{MemAvailable: 1 << 30, NProc: 100, NoFile: 64, AS: 512 << 20}
	for _, tc := range []struct {
		text string
		m    scenarios.Machine
		want string
	}{
		{"pool=tracked workers=8 jobs=64 payload=8388608", scenarios.Machine{MemAvailable: 1 << 30}, "more than half of the 1.0 GiB available (MemAvailable)"},
		{"pool=tracked workers=2 jobs=40 payload=8388608", scenarios.Machine{AS: 512 << 20}, "more than RLIMIT_AS (512.0 MiB)"},
		{"pool=tracked workers=64 jobs=4096", scenarios.Machine{NProc: 100}, "more than RLIMIT_NPROC (100)"},
		{"pool=naive workers=12 jobs=6", scenarios.Machine{NoFile: 64}, "more than RLIMIT_NOFILE (64)"},
	} {
		sc, err := scenarios.Parse(tc.text)
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if err := sc.Fits(tc.m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s on %+v: err = %v, want %q", tc.text, tc.m, err, tc.want)
		}
	}
	sc, _ := scenarios.Parse("pool=naive workers=2 jobs=6")
	if err := sc.Fits(small); err != nil {
		t.Errorf("the standard cell does not fit a small machine: %v", err)
	}
}
