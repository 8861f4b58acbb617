package scenarios_test

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/internal/fdcount"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
	"github.com/poolhang/poolhang/scenarios/scenariotest"
)

func TestMain(m *testing.M) {
	realpools.MaybeServeReaper()
	pools.MaybeServeWorker()
	goleak.VerifyTestMain(m)
}

func run(t testing.TB, sc scenarios.Scenario) scenarios.Outcome {
	t.Helper()
	o, err := scenariotest.Run(sc)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// burnCPU keeps both cores busy with real processes until the returned
// function is called.
func burnCPU(t testing.TB) func() {
	var cmds []*exec.Cmd
	for i := 0; i < 2; i++ {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	return func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}
}

// Every cell gives the same verdict with both cores busy as on a quiet
// machine (the harness's Ginkgo table, which checks every cell against its
// expectation, and TestRegeneratingChangesNothing run each cell quiet:
// with this, three runs of each cell in every go test). With some 400 cells more does not fit go test's
// budget on 2 cores; POOLHANG_REPEAT=N runs each N times quiet and N
// times loaded (10 gives the 20 runs of the earlier, smaller matrix).
func TestVerdictsAreRepeatable(t *testing.T) {
	t.Parallel()
	runs := 0
	if n, err := strconv.Atoi(os.Getenv("POOLHANG_REPEAT")); err == nil && n > 0 {
		runs = n
	}
	for _, load := range []bool{false, true} {
		name, n := "quiet", runs
		if load {
			name, n = "loaded", max(runs, 1)
		}
		t.Run(name, func(t *testing.T) {
			if n == 0 {
				t.Skip("SKIP the quiet repeats: the quiet runs are the Ginkgo table's (go test .) and TestRegeneratingChangesNothing's; POOLHANG_REPEAT=N runs N more")
			}
			if load {
				defer burnCPU(t)()
			}
			for _, c := range scenariotest.Cases() {
				for i := 0; i < n; i++ {
					if err := c.Verify(run(t, c.Scenario)); err != nil {
						t.Fatalf("run %d: %v", i+1, err)
					}
				}
			}
		})
	}
}

// The seed: Python 2.6, a worker segfaults holding a job, the program
// closes and joins the pool, and hangs; ps shows every worker <defunct>.
func TestSeedCase(t *testing.T) {
	sc, err := scenarios.Parse("pool=naive workers=5 jobs=5 wait=join fault=segfault@task-run:2")
	if err != nil {
		t.Fatal(err)
	}
	o := run(t, sc)
	if o.Verdict != scenarios.Hang {
		t.Fatalf("verdict %s, want hang: %s", o.Verdict, o.Diagnosis)
	}
	if len(o.Workers) != 5 {
		t.Fatalf("%d workers, want 5", len(o.Workers))
	}
	crashed := 0
	for _, w := range o.Workers {
		if !w.Zombie || w.Proc != "Z" || w.Alive {
			t.Errorf("worker %d: zombie=%v proc=%s alive=%v; want every worker a zombie as in the seed's ps", w.PID, w.Zombie, w.Proc, w.Alive)
		}
		if w.Exit == "killed by SIGSEGV" {
			crashed++
			if w.Job != 2 {
				t.Errorf("the crashed worker held job %d, want 2", w.Job)
			}
		} else if w.Exit != "exit code 0" {
			t.Errorf("worker %d: %s, want exit code 0 (it got its sentinel)", w.PID, w.Exit)
		}
	}
	if crashed != 1 {
		t.Errorf("%d workers killed by SIGSEGV, want 1", crashed)
	}
	for _, want := range []string{"job 2 was taken by a worker that then ended, killed by SIGSEGV, in task-run", "the result handler is reading the result pipe until the cache empties", "exited and are zombies"} {
		if !strings.Contains(o.Diagnosis, want) {
			t.Errorf("diagnosis lacks %q:\n%s", want, o.Diagnosis)
		}
	}
	if !contains(o.Stuck, "result-handler") || !contains(o.Stuck, "caller") {
		t.Errorf("stuck = %v, want the caller and the result handler", o.Stuck)
	}
	ok, _, unres := o.Count()
	if ok != 4 || unres != 1 {
		t.Errorf("jobs: %d ok, %d unresolved; want 4 and 1", ok, unres)
	}
}

// 2.7/3.x: the worker is replaced, the job is still lost, and because the
// worker handler keeps going while the cache is not empty, the live workers
// never get their sentinel and never exit.
func TestRespawnWorkersNeverExit(t *testing.T) {
	sc, _ := scenarios.Parse("pool=respawn workers=3 jobs=6 wait=join fault=sigkill@task-run:2")
	o := run(t, sc)
	if o.Verdict != scenarios.Hang {
		t.Fatalf("verdict %s: %s", o.Verdict, o.Diagnosis)
	}
	alive := 0
	for _, w := range o.Workers {
		if w.Alive {
			alive++
			// Alive as ps shows it (not <defunct>), and proven blocked.
			// The kernel letter is the main thread's only: a Go worker's
			// runtime may be running (R) while the worker is blocked.
			if w.Proc == "Z" || w.Proc == "gone" {
				t.Errorf("live worker %d in state %s", w.PID, w.Proc)
			}
			if !contains(o.Stuck, fmt.Sprintf("worker %d", w.PID)) {
				t.Errorf("live worker %d is not among the stuck parties %v", w.PID, o.Stuck)
			}
		}
	}
	if alive != 3 {
		t.Errorf("%d live workers, want 3 (two survivors and one replacement, none told to exit)", alive)
	}
	if !contains(o.Stuck, "worker-handler") {
		t.Errorf("stuck = %v, want the worker handler among them", o.Stuck)
	}
}

// failfast never hangs on a death, except one mid-frame (result-write),
// which leaves its manager in recv (TestFailFastTornResultFrameHangs).
func TestFailFastNeverHangsOnDeaths(t *testing.T) {
	for _, c := range scenarios.StandardCells() {
		if c.Pool != pools.FailFast {
			continue
		}
		for _, w := range scenarios.WaitStylesFor(c.Pool) {
			sc := scenarios.Standard(c.Pool, c.Kind, c.Phase)
			sc.Wait = w
			if sc.Validate() != nil || !scenarios.NeverHangs(sc) {
				continue // a combination the scenario refuses (a Ctrl-C with a call style), or one that may hang
			}
			if o := run(t, sc); o.Verdict == scenarios.Hang || o.Verdict == scenarios.HangTimeout {
				t.Errorf("%s: %s: %s", sc, o.Verdict, o.Diagnosis)
			}
		}
	}
}

// After any verdict, nothing is left: no child process, no extra
// descriptor (goroutines are checked by goleak in TestMain).
func TestTeardownLeavesNothing(t *testing.T) {
	fds := fdcount.Count(t)
	for _, text := range []string{
		"pool=naive workers=3 jobs=6 wait=join fault=segfault@task-run:2",
		"pool=naive workers=2 jobs=6 wait=map fault=sigkill@result-encode:2",
		"pool=respawn workers=2 jobs=6 wait=get fault=segfault@idle-lock-holder",
		"pool=failfast workers=4 jobs=20 wait=map fault=os-exit@task-decode:7",
		"pool=failfast workers=2 jobs=6 wait=join fault=sigkill@result-write:2",
		"pool=respawn workers=2 jobs=20 chunksize=4 wait=map fault=segfault@task-run:9",
		"pool=naive workers=2 jobs=6 wait=map fault=reader-memory-error@result-decode:1",
	} {
		sc, err := scenarios.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		run(t, sc)
		if kids := children(t); len(kids) > 0 {
			t.Errorf("after %s: child processes remain: %v", sc, kids)
		}
	}
	if got := fdcount.Count(t); got != fds {
		t.Errorf("descriptors: %d before, %d after", fds, got)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"pool=python workers=2 jobs=6", "allowed: naive, respawn, failfast"},
		{"pool=naive workers=2 jobs=6 fault=meteor@task-run:2", `unknown fault kind "meteor" (allowed: raise, sys-exit`},
		{"pool=naive workers=2 jobs=6 fault=segfault@lunch:2", `unknown phase "lunch" (allowed: task-encode`},
		{"pool=naive workers=2 jobs=6 fault=segfault@task-encode:2", "would end the harness"},
		{"pool=naive workers=2 jobs=6 fault=reader-memory-error@task-run:2", "reader-memory-error strikes at: result-decode"},
		{"pool=naive workers=2 jobs=6 fault=segfault@task-run:9", "targets job 9, but the scenario has 6 jobs (0 to 5)"},
		{"pool=naive workers=2 jobs=6 fault=segfault@task-run", "needs a target job"},
		{"pool=naive workers=2 jobs=6 fault=segfault@idle-lock-holder:1", "drop the :1"},
		{"pool=naive workers=1 jobs=6 fault=sigkill@idle-lock-waiter", "needs at least 2 workers"},
		{"pool=naive workers=0 jobs=6", "workers=0, allowed 1 to 64"},
		{"pool=naive workers=2 jobs=-1", "jobs=-1, allowed 0"},
		{"pool=naive workers=two jobs=6", "not a whole number"},
		{"pool=naive workers=2 jobs=6 wait=sometime", "allowed: map, get, join"},
		{"pool=naive workers=2 jobs=6 colour=blue", `unknown key "colour"`},
		{"pool=naive jobs=6", "missing workers="},
		{"pool=naive pool=naive workers=2 jobs=6", "pool given twice"},
		{"naive", "not key=value"},
		{"pool=naive workers=2 jobs=6 chunksize=0", "chunksize=0, allowed 1 to 4096"},
		{"pool=naive workers=2 jobs=6 chunksize=-3", "chunksize=-3, allowed 1 to 4096"},
		{"pool=naive workers=2 jobs=6 chunksize=big", `chunksize="big" is not a whole number`},
		{"pool=loky workers=2 jobs=6 wait=imap chunksize=2", "loky's executor is a ProcessPoolExecutor: no imap"},
		{"pool=failfast workers=2 jobs=6 wait=get chunksize=2", "wait=get submits each job alone"},
		{"pool=failfast workers=2 jobs=6 wait=imap chunksize=2", "failfast (ProcessPoolExecutor) has no imap"},
		{"pool=tracked workers=2 jobs=6 chunksize=2", "not tracked"},
		{"pool=respawn workers=2 jobs=6 wait=get chunksize=2", "wait=get submits each job alone"},
		{"pool=py:threads workers=2 jobs=6", "or a real Python pool: py:mp.Pool, py:ProcessPoolExecutor"},
		{"pool=py:loky workers=2 jobs=6 wait=get chunksize=2", "wait=get submits each job alone"},
		{"pool=py:ProcessPoolExecutor workers=2 jobs=6 wait=get chunksize=2", "wait=get submits each job alone"},
		{"pool=py:ProcessPoolExecutor workers=2 jobs=6 deadline=500ms", "py:ProcessPoolExecutor has no per-task deadline"},
		{"pool=py:mp.Pool workers=2 jobs=6 fault=segfault@task-encode:2", "would end the harness"},
		{"pool=naive workers=2 jobs=6 wait=imapp", "allowed: map, get, join, callback, imap, imap_unordered"},
		{"pool=respawn workers=2 jobs=6 wait=map fault=raise@callback:2", "a callback runs only with wait=callback"},
		{"pool=respawn workers=2 jobs=6 wait=get fault=raise@input:2", "only with wait=imap or wait=imap_unordered"},
		{"pool=respawn workers=2 jobs=6 wait=callback fault=segfault@callback:2", "a death there would end the harness"},
		{"pool=respawn workers=2 jobs=6 wait=imap fault=sys-exit@input:2", "only an ordinary error (raise) is modelled there"},
		{"pool=respawn workers=2 jobs=6 wait=imap fault=raise@input", "needs a target job"},
		{"pool=failfast workers=2 jobs=6 wait=imap", "failfast (ProcessPoolExecutor) has no imap"},
		{"pool=tracked workers=2 jobs=6 wait=imap chunksize=2", "not tracked"},
		{"pool=respawn workers=2 jobs=6 wait=callback chunksize=2", "wait=callback submits each job alone"},
	} {
		_, err := scenarios.Parse(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
	for _, tc := range []struct{ file, want string }{
		{"pool=naive workers=2 jobs=6\npool=naive workers=2 jobs=6 fault=x@y:1\n", "replay line 2: scenario: fault \"x@y:1\": unknown fault kind"},
		{"# ok\n\x00\x01\x02garbage\n", "replay line 2: not a scenario"},
		{strings.Repeat("a", 2<<20), "longer than 1 MiB"},
	} {
		_, err := scenarios.ReadReplay(strings.NewReader(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadReplay(%.40q) = %v, want an error containing %q", tc.file, err, tc.want)
		}
	}
}

func TestTextRoundTrips(t *testing.T) {
	for _, text := range []string{
		"pool=respawn workers=2 jobs=6 chunksize=3 wait=map fault=raise@task-run:3",
		"pool=naive workers=1 jobs=9 chunksize=4 wait=map",
		"pool=respawn workers=2 jobs=6 wait=callback fault=raise@callback:2",
		"pool=naive workers=2 jobs=6 chunksize=2 wait=imap fault=raise@input:3",
		"pool=tracked workers=2 jobs=6 wait=imap_unordered fault=raise@input:0 fault=raise@task-run:1",
		"pool=py:mp.Pool workers=2 jobs=6 chunksize=2 wait=imap fault=raise@input:2",
		"pool=failfast workers=2 jobs=6 chunksize=3 wait=map fault=raise@task-run:2",
		"pool=py:ProcessPoolExecutor workers=2 jobs=6 chunksize=3 wait=map",
	} {
		sc, err := scenarios.Parse(text)
		if err != nil || sc.String() != text {
			t.Errorf("%q parsed as %q, %v", text, sc, err)
		}
	}
	for _, p := range realpools.Pools() {
		for _, kp := range realpools.StandardFaults() {
			text := realpools.Standard(p.Name, kp[0], faults.Phase(kp[1]))
			sc, err := scenarios.Parse(text)
			if err != nil || sc.String() != text || !sc.Real() {
				t.Errorf("%q parsed as %q (real: %v), %v", text, sc, sc.Real(), err)
			}
		}
	}
	for _, c := range scenarios.Cells() {
		for _, w := range scenarios.WaitStylesFor(c.Pool) {
			sc := c.Scenario()
			if sc.ChunkSize > 0 && w != scenarios.WaitMap {
				continue // a chunk size is map's alone
			}
			sc.Wait = w
			if err := sc.Validate(); err != nil {
				// A caller's phase needs its call style, imap a pool
				// that has it: the text form refuses the rest, naming why.
				if _, perr := scenarios.Parse(sc.String()); perr == nil || !strings.Contains(perr.Error(), "wait=") {
					t.Errorf("%s: invalid (%v), but Parse says %v", sc, err, perr)
				}
				continue
			}
			back, err := scenarios.Parse(sc.String())
			if err != nil || back.String() != sc.String() {
				t.Errorf("%s: parsed back as %s, %v", sc, back, err)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range scenarios.Cells() {
		f.Add(c.Scenario().String())
	}
	for _, p := range realpools.Pools() {
		f.Add(realpools.Standard(p.Name, "sigkill", faults.TaskRun))
		f.Add(realpools.Standard(p.Name, "segfault", faults.IdleLockHolder))
	}
	f.Add("pool=py:mp.Pool workers=2 jobs=6 chunksize=2")
	f.Add("pool=naive workers=2 jobs=6 fault=@:")
	f.Add("pool=respawn workers=2 jobs=6 chunksize=3 wait=map fault=raise@task-run:3")
	f.Add("pool=failfast workers=2 jobs=6 chunksize=3")
	f.Add("pool=respawn workers=2 jobs=6 wait=callback fault=raise@callback")
	f.Add("pool=naive workers=2 jobs=6 chunksize=2 wait=imap_unordered fault=raise@input:x")
	f.Add("pool=py:billiard workers=2 jobs=6 chunksize=2 wait=imap fault=raise@input:2")
	f.Add("pool=respawn workers=2 jobs=6 maxtasks=0 initializer=ok")
	f.Add("pool=py:pebble workers=2 jobs=6 maxtasks=2 initializer=raise chunksize=3")
	f.Fuzz(func(t *testing.T, text string) {
		sc, err := scenarios.Parse(text)
		if err != nil {
			return
		}
		back, err := scenarios.Parse(sc.String())
		if err != nil || back.String() != sc.String() {
			t.Fatalf("%q parsed as %s, which parses back as %s, %v", text, sc, back, err)
		}
	})
}

// BenchmarkHangVerdict measures how long after the last progress of any
// party a hang is proven (target: median at most 20 ms).
func BenchmarkHangVerdict(b *testing.B) {
	sc := scenarios.Standard(pools.Naive, "segfault", faults.TaskRun)
	var ds []time.Duration
	for b.Loop() {
		o := run(b, sc)
		if o.Verdict != scenarios.Hang {
			b.Fatalf("verdict %s", o.Verdict)
		}
		ds = append(ds, o.ToVerdict)
	}
	b.ReportMetric(float64(median(ds).Microseconds())/1000, "ms-to-verdict-median")
}

// BenchmarkScenario runs a 2-worker, 6-job scenario end to end, process
// start and teardown included (target: median at most 10 ms).
func BenchmarkScenario(b *testing.B) {
	sc, _ := scenarios.Parse("pool=naive workers=2 jobs=6 wait=map")
	var ds []time.Duration
	for b.Loop() {
		o := run(b, sc)
		if o.Verdict != scenarios.Completed {
			b.Fatalf("verdict %s", o.Verdict)
		}
		ds = append(ds, o.Wall)
	}
	b.ReportMetric(float64(median(ds).Microseconds())/1000, "ms-wall-median")
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// children lists the processes whose parent is this test binary.
func children(t *testing.T) []string {
	es, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	me := strconv.Itoa(os.Getpid())
	var out []string
	for _, e := range es {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+2:]
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == me {
			out = append(out, e.Name()+" "+f[0])
		}
	}
	return out
}
