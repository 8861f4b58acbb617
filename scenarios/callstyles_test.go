package scenarios_test

import (
	"strings"
	"testing"

	"github.com/poolhang/poolhang/scenarios"
)

// BenchmarkCallStyles runs a 2-worker, 6-job scenario of each new call
// style end to end, process start and teardown included (target: median
// at most 10 ms, as BenchmarkScenario).
func BenchmarkCallStyles(b *testing.B) {
	for _, tc := range []struct {
		name, text string
		verdict    scenarios.Verdict
	}{
		{"callback", "pool=respawn workers=2 jobs=6 wait=callback fault=raise@task-run:2", scenarios.Raised},
		{"callback-raises", "pool=tracked workers=2 jobs=6 wait=callback fault=raise@callback:2", scenarios.Raised},
		{"imap-input", "pool=respawn workers=2 jobs=6 wait=imap fault=raise@input:3", scenarios.Raised},
		{"imap_unordered", "pool=respawn workers=2 jobs=6 wait=imap_unordered", scenarios.Completed},
		{"imap-chunks", "pool=naive workers=2 jobs=6 chunksize=2 wait=imap fault=raise@task-run:2", scenarios.Raised},
		{"respawn-terminate", "pool=respawn workers=2 jobs=6 wait=terminate", scenarios.Completed},
		{"naive-terminate", "pool=naive workers=2 jobs=6 wait=terminate", scenarios.Completed},
		{"failfast-shutdown", "pool=failfast workers=2 jobs=6 wait=shutdown", scenarios.Completed},
		{"failfast-shutdown-cancel", "pool=failfast workers=2 jobs=6 wait=shutdown-cancel", scenarios.Completed},
	} {
		b.Run(tc.name, func(b *testing.B) { benchScenario(b, tc.text, tc.verdict) })
	}
}

// A caller's phase really strikes where it says: the callback raises on
// the pool's thread (3.11's result handler dies, cpython#83371), and an
// imap's input raises in the task handler (3.x re-raises it as the item's
// error; 2.6's task handler dies).
func TestCallerPhasesStrike(t *testing.T) {
	for _, tc := range []struct {
		text         string
		verdict      scenarios.Verdict
		party, state string
	}{
		{"pool=respawn workers=2 jobs=6 wait=callback fault=raise@callback:2", scenarios.Hang, "result-handler", "died of an uncaught error in the callback of job 2"},
		{"pool=naive workers=2 jobs=6 wait=imap fault=raise@input:2", scenarios.Hang, "task-handler", "died of an uncaught error from the imap's input iterable"},
		{"pool=respawn workers=2 jobs=6 wait=imap fault=raise@input:2", scenarios.Raised, "", ""},
	} {
		sc, err := scenarios.Parse(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		o := run(t, sc)
		if o.Verdict != tc.verdict {
			t.Fatalf("%s: verdict %s, want %s: %s", sc, o.Verdict, tc.verdict, o.Diagnosis)
		}
		if tc.party == "" {
			ok, failed, _ := o.Count()
			if ok != 2 || failed != 4 {
				t.Errorf("%s: %d ok and %d failed, want 2 and 4 (items 0 and 1, then the input's error)", sc, ok, failed)
			}
			continue
		}
		found := false
		for _, p := range o.Final.Parties {
			if p.ID == tc.party && p.Died && strings.HasPrefix(p.State, tc.state) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no %s that %s in %+v", sc, tc.party, tc.state, o.Final.Parties)
		}
	}
}

// A replay file takes the call styles' keys as the command line does.
func TestReplayTakesTheCallStyles(t *testing.T) {
	file := "# the call styles\n" +
		"pool=respawn workers=2 jobs=6 wait=callback fault=raise@callback:2\n" +
		"pool=naive workers=2 jobs=6 chunksize=2 wait=imap fault=raise@input:3\n" +
		"pool=tracked workers=1 jobs=3 wait=imap_unordered\n"
	scs, err := scenarios.ReadReplay(strings.NewReader(file))
	if err != nil || len(scs) != 3 {
		t.Fatalf("ReadReplay = %v, %v; want 3 scenarios", scs, err)
	}
	if scs[1].ChunkSize != 2 || scs[1].Wait != scenarios.WaitIMap || scs[0].Faults[0].Phase != "callback" {
		t.Errorf("read back as %v", scs)
	}
	_, err = scenarios.ReadReplay(strings.NewReader("pool=failfast workers=2 jobs=6 wait=imap_unordered\n"))
	if err == nil || !strings.Contains(err.Error(), "replay line 1") || !strings.Contains(err.Error(), "has no imap") {
		t.Errorf("a failfast imap in a replay file: %v, want an error naming the line and why", err)
	}
}
