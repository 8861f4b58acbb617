package poolhang_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/goleak"
	"golang.org/x/sync/errgroup"
	"pgregory.net/rapid"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/internal/fdcount"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/scenarios"
	"github.com/poolhang/poolhang/scenarios/scenariotest"
)

// The test binary is also every pool's worker binary.
func TestMain(m *testing.M) {
	pools.MaybeServeWorker()
	// Ginkgo's own signal watcher outlives RunSpecs by design.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/onsi/ginkgo/v2/internal/interrupt_handler.(*InterruptHandler).registerForInterrupts.func2"))
}

func TestHarness(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "poolhang harness")
}

func run(sc scenarios.Scenario) scenarios.Outcome {
	o, err := scenariotest.Run(sc)
	Expect(err).NotTo(HaveOccurred())
	return o
}

func committedMatrix() (scenarios.Matrix, error) {
	f, err := os.Open("results/matrix.json")
	if err != nil {
		return scenarios.Matrix{}, err
	}
	defer f.Close()
	return scenarios.ReadMatrix(f)
}

// cellEntries is scenariotest's table of cells, the one the scenarios
// package's own suite runs too.
func cellEntries() []TableEntry {
	var es []TableEntry
	for _, c := range scenariotest.Cases() {
		es = append(es, Entry(c.Cell.String(), c))
	}
	return es
}

// cellRuns holds every table cell's outcome, run once, six at once as
// the matrix runs them (scenarios.Generate), the first time an entry
// asks: the table asserts each cell on its own, and a cell's verdict is
// proven from recorded state whatever the load, so running them side by
// side changes nothing but the wall time (on 2 cores beside the other
// packages' tests, 56 s one after the other).
var cellRuns struct {
	once sync.Once
	out  map[string]scenarios.Outcome
	err  map[string]error
}

func cellOutcome(c scenariotest.Case) scenarios.Outcome {
	cellRuns.once.Do(func() {
		cases := scenariotest.Cases()
		outs := make([]scenarios.Outcome, len(cases))
		errs := make([]error, len(cases))
		var g errgroup.Group
		g.SetLimit(6)
		for i, cc := range cases {
			g.Go(func() error {
				outs[i], errs[i] = scenariotest.Run(cc.Scenario)
				return nil
			})
		}
		g.Wait()
		cellRuns.out, cellRuns.err = map[string]scenarios.Outcome{}, map[string]error{}
		for i, cc := range cases {
			cellRuns.out[cc.Cell.String()], cellRuns.err[cc.Cell.String()] = outs[i], errs[i]
		}
	})
	o, ok := cellRuns.out[c.Cell.String()]
	Expect(ok).To(BeTrue(), "cell %s was not among scenariotest.Cases()", c.Cell)
	Expect(cellRuns.err[c.Cell.String()]).NotTo(HaveOccurred())
	return o
}

var _ = Describe("the result matrix", func() {
	var committed scenarios.Matrix
	BeforeEach(func() {
		var err error
		committed, err = committedMatrix()
		Expect(err).NotTo(HaveOccurred(), "read the committed matrix; regenerate it with %s", scenarios.MatrixCommand)
	})

	DescribeTable("each cell's standard scenario reaches the verdict argued from the mechanism",
		func(c scenariotest.Case) {
			o := cellOutcome(c)
			Expect(c.Verify(o)).To(Succeed())
			mc, ok := committed.Cell(c.Cell)
			Expect(ok).To(BeTrue(), "results/matrix.json has no cell %s: regenerate it with %s", c.Cell, scenarios.MatrixCommand)
			Expect(mc.Changes(scenarios.NewMatrixCell(c.Cell, o))).To(BeEmpty(),
				"results/matrix.json differs from a fresh run of %s: regenerate it with %s", c.Cell, scenarios.MatrixCommand)
		},
		cellEntries(),
	)

	It("holds exactly the catalog's cells, with the catalog's names", func() {
		want := map[string]bool{}
		for _, c := range scenarios.Cells() {
			want[c.String()] = true
		}
		for _, mc := range committed.Cells {
			c := mc.Cell()
			Expect(want).To(HaveKey(c.String()), "results/matrix.json has a cell the catalog lacks")
			delete(want, c.String())
			Expect(mc.Reproduce).To(Equal(c.Scenario().Command()))
		}
		Expect(want).To(BeEmpty(), "cells missing from results/matrix.json; regenerate it with %s", scenarios.MatrixCommand)
	})
})

var _ = Describe("process hygiene", func() {
	It("leaves every worker a zombie after the seed's hang, as ps --ppid showed", func() {
		sc, err := scenarios.Parse("pool=naive workers=5 jobs=5 wait=join fault=segfault@task-run:2")
		Expect(err).NotTo(HaveOccurred())
		o := run(sc)
		Expect(o.Verdict).To(Equal(scenarios.Hang), o.Diagnosis)
		Expect(o.Workers).To(HaveLen(5))
		for _, w := range o.Workers {
			Expect(w.Proc).To(Equal("Z"), "worker %d: %s", w.PID, w.State)
			Expect(w.Zombie).To(BeTrue())
			Expect(w.Exit).To(Or(Equal("killed by SIGSEGV"), Equal("exit code 0")))
		}
		Expect(o.Stuck).To(ContainElements("caller", "result-handler"))
		Expect(o.Diagnosis).To(ContainSubstring("killed by SIGSEGV, in task-run"))
	})

	It("leaves 2.7's workers alive and blocked, never told to exit", func() {
		sc, err := scenarios.Parse("pool=respawn workers=2 jobs=6 wait=join fault=segfault@task-run:2")
		Expect(err).NotTo(HaveOccurred())
		o := run(sc)
		Expect(o.Verdict).To(Equal(scenarios.Hang), o.Diagnosis)
		alive := 0
		for _, w := range o.Workers {
			if w.Alive {
				alive++
				// Alive as ps shows it, and proven blocked; the kernel letter
				// is the main thread's only, and Go's runtime may be running.
				Expect(w.Proc).NotTo(BeElementOf("Z", "gone"), "worker %d: %s", w.PID, w.State)
				Expect(o.Stuck).To(ContainElement(fmt.Sprintf("worker %d", w.PID)))
				Expect(w.State).To(Or(ContainSubstring("reading the task pipe"), ContainSubstring("waiting for the task-queue read lock")))
			}
		}
		Expect(alive).To(Equal(2), "the survivor and the replacement")
	})

	It("ends everything after any verdict: no child process, no descriptor, no goroutine", func() {
		fds := countFDs()
		for _, text := range []string{
			"pool=naive workers=3 jobs=6 wait=join fault=segfault@task-run:2",
			"pool=respawn workers=2 jobs=6 wait=get fault=sigkill@idle-lock-holder",
			"pool=failfast workers=2 jobs=6 wait=map fault=sigkill@result-encode:2",
		} {
			sc, err := scenarios.Parse(text)
			Expect(err).NotTo(HaveOccurred())
			run(sc)
			Expect(children()).To(BeEmpty(), "child processes after %s", sc)
		}
		Expect(countFDs()).To(Equal(fds))
		Expect(goleak.Find(goleak.IgnoreCurrent())).To(Succeed())
	})
})

func countFDs() int {
	n, err := fdcount.Open()
	Expect(err).NotTo(HaveOccurred())
	return n
}

// children lists this process's child processes, as ps --ppid would.
func children() []string {
	es, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	var out []string
	for _, e := range es {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[1] == me {
			out = append(out, e.Name()+" "+f[0])
		}
	}
	return out
}

// --- rapid properties -------------------------------------------------

func runProp(t *rapid.T, sc scenarios.Scenario) scenarios.Outcome {
	o, err := scenariotest.Run(sc)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// fail logs the details and fails with law alone: rapid shrinks only
// while a failure's message stays the same.
func fail(t *rapid.T, law string, o scenarios.Outcome) {
	failures.Lock()
	failures.seen = append(failures.seen, fmt.Sprintf("%s\n  scenario: %s\n  verdict: %s: %s", law, o.Scenario, o.Verdict, o.Diagnosis))
	failures.Unlock()
	t.Logf("%s\n  scenario: %s\n  verdict: %s: %s\n  replay: %s", law, o.Scenario, o.Verdict, o.Diagnosis, o.Scenario.Command())
	t.Fatal(law)
}

// failures keeps every failure as it happened: rapid shows only its
// replay of the shrunk case, which a nondeterministic failure may not
// repeat.
var failures struct {
	sync.Mutex
	seen []string
}

// reportFailures logs, on a failed test, every failure seen during it.
func reportFailures(t *testing.T) {
	failures.Lock()
	failures.seen = nil
	failures.Unlock()
	t.Cleanup(func() {
		failures.Lock()
		defer failures.Unlock()
		if t.Failed() && len(failures.seen) > 0 {
			t.Logf("first failure seen during the search:\n%s", failures.seen[0])
		}
	})
}

// searchSize is POOLHANG_SEARCH, the number of scenarios a property or
// search draws, if set, or def: go test ./... keeps within its 3
// minutes on 2 cores with the defaults.
func searchSize(def string) string {
	if v := os.Getenv("POOLHANG_SEARCH"); v != "" {
		return v
	}
	return def
}

// setOnCommandLine reports whether flag name was given on the command
// line, not left at its default (rapid.checks defaults to 100, so a
// smaller count asked for here must not read as "asked for more").
func setOnCommandLine(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// withFlags sets rapid's flags for the duration of f.
func withFlags(t *testing.T, kv map[string]string, f func()) {
	old := map[string]string{}
	for k, v := range kv {
		fl := flag.Lookup(k)
		if fl == nil {
			t.Fatalf("no flag %s", k)
		}
		old[k] = fl.Value.String()
		if k == "rapid.checks" && setOnCommandLine(k) {
			if cur, _ := strconv.Atoi(old[k]); cur > 0 {
				if want, _ := strconv.Atoi(v); cur > want {
					continue // asked for more on the command line
				}
			}
		}
		fl.Value.Set(v)
	}
	defer func() {
		for k, v := range old {
			flag.Lookup(k).Value.Set(v)
		}
	}()
	f()
}

// Law 2: any non-hang verdict answers every job exactly once, and every
// value returned is correct; except a failfast map, which follows
// Executor.map (concurrent/futures/_base.py, 3.11): its result_iterator
// yields the results in job order and raises at the first failed job, and
// its finally cancels every later future. So there every job before the
// first failed one has its value, that job its error, and each later job
// is cancelled (still pending: it is resolved as cancelled and never
// runs) or not delivered (Future.cancel returned False: it was already
// on the call queue, in a worker or done). No other call leaves a job
// cancelled or not delivered.
func TestPropertyAnswersAreWholeAndCorrect(t *testing.T) {
	reportFailures(t)
	rapid.Check(t, func(t *rapid.T) {
		o := runProp(t, scenariotest.Gen(scenariotest.GenOptions{Options: true}).Draw(t, "scenario"))
		if len(o.Jobs) != o.Scenario.Jobs {
			fail(t, "law 2: wrong number of job outcomes", o)
		}
		if o.Verdict == scenarios.Hang || o.Verdict == scenarios.Livelock {
			return
		}
		if o.Verdict == scenarios.HangTimeout {
			fail(t, "no verdict before the backstop", o)
		}
		// loky's map is failfast's (Executor.map's result_iterator).
		inOrder := (o.Scenario.Pool == pools.FailFast || o.Scenario.Pool == pools.Loky) && o.Scenario.Wait == scenarios.WaitMap
		for i, j := range o.Jobs {
			if j.Job != i {
				fail(t, "law 2: job outcomes out of order", o)
			}
			if j.State == scenarios.JobUnresolved || j.Kind == scenarios.ErrKindWrongValue {
				t.Logf("job %d is %s %s", i, j.State, j.Error)
				fail(t, "law 2: a job unresolved or wrong after an answer", o)
			}
		}
		jobs := o.Jobs
		if cut := truncatedAt(o); cut >= 0 {
			// billiard's imap ends after the items before a raising
			// input (TaskHandler.body: set_length(i + 1)); those after
			// it are never delivered.
			if i := slices.IndexFunc(jobs[cut:], func(j scenarios.JobOutcome) bool { return j.State != scenarios.JobNotDelivered }); i >= 0 {
				fail(t, fmt.Sprintf("law 2: billiard's imap ended at job %d, yet job %d is %s", cut, cut+i, jobs[cut+i].State), o)
			}
			jobs = jobs[:cut]
		}
		if msg := mapOrderLaw(jobs, inOrder, o.Scenario.ChunkSize); msg != "" {
			fail(t, "law 2: "+msg, o)
		}
	})
}

// truncatedAt is the job at which billiard's imap ended because its input
// raised there, or -1: the first job not delivered, in a billiard imap
// with a raising input and no job failed.
func truncatedAt(o scenarios.Outcome) int {
	if o.Scenario.Pool != pools.Billiard || (o.Scenario.Wait != scenarios.WaitIMap && o.Scenario.Wait != scenarios.WaitIMapUnordered) {
		return -1
	}
	for _, f := range o.Scenario.Faults {
		if f.Phase == faults.Input {
			return slices.IndexFunc(o.Jobs, func(j scenarios.JobOutcome) bool { return j.State == scenarios.JobNotDelivered })
		}
	}
	return -1
}

// mapOrderLaw checks the jobs' states against Executor.map where inOrder
// (a failfast map) and against every job answered elsewhere, and says
// what is wrong. A failfast map answers ok..., then its first failed job,
// then cancelled or not-delivered jobs; or, when a submit raised (a
// broken pool: `fs = [self.submit(...) ...]` raises before any result is
// waited for), not-delivered jobs, then that submit's error on it and
// every job after it.
// chunk is the map's chunksize (0 or 1: one job a work item): the jobs of
// the failed job's chunk all carry its error (_process_chunk,
// _chain_from_iterable_of_lists).
func mapOrderLaw(jobs []scenarios.JobOutcome, inOrder bool, chunk int) string {
	undelivered := func(j scenarios.JobOutcome) bool {
		return j.State == scenarios.JobCancelled || j.State == scenarios.JobNotDelivered
	}
	k := slices.IndexFunc(jobs, func(j scenarios.JobOutcome) bool { return j.State == scenarios.JobError })
	if !inOrder || k < 0 {
		if i := slices.IndexFunc(jobs, undelivered); i >= 0 {
			return fmt.Sprintf("job %d is %s (%s) where no failfast map raised", i, jobs[i].State, jobs[i].Error)
		}
		return ""
	}
	chunk = max(chunk, 1)
	end := min(len(jobs), (k/chunk+1)*chunk) // the failed job's chunk ends here
	if i := slices.IndexFunc(jobs[k+1:end], func(j scenarios.JobOutcome) bool { return j.State != scenarios.JobError || j.Error != jobs[k].Error }); i >= 0 {
		return fmt.Sprintf("job %d failed, yet job %d of its chunk is %s (%s)", k, k+1+i, jobs[k+1+i].State, jobs[k+1+i].Error)
	}
	before, after := jobs[:k], jobs[end:]
	refused := len(before) > 0 && !slices.ContainsFunc(before, func(j scenarios.JobOutcome) bool { return j.State != scenarios.JobNotDelivered })
	if refused || (k == 0 && len(after) > 0 && after[0].State == scenarios.JobError) {
		// A submit raised at job k: every job from it on has its error.
		if i := slices.IndexFunc(after, func(j scenarios.JobOutcome) bool { return j.State != scenarios.JobError || j.Error != jobs[k].Error }); i >= 0 {
			return fmt.Sprintf("a map refused at job %d, yet job %d is %s (%s)", k, end+i, after[i].State, after[i].Error)
		}
		return ""
	}
	if i := slices.IndexFunc(before, func(j scenarios.JobOutcome) bool { return j.State != scenarios.JobOK }); i >= 0 {
		return fmt.Sprintf("job %d is %s before the map's first failed job %d", i, before[i].State, k)
	}
	if i := slices.IndexFunc(after, func(j scenarios.JobOutcome) bool { return !undelivered(j) }); i >= 0 {
		return fmt.Sprintf("the map raised at job %d, yet job %d is %s (%s), neither cancelled nor not delivered", k, end+i, after[i].State, after[i].Error)
	}
	return ""
}

// Law 3: in naive and respawn every hang has a named cause, and a scenario
// with such a cause hangs (when its caller waits for something).
func TestPropertyHangsHaveCauses(t *testing.T) {
	reportFailures(t)
	rapid.Check(t, func(t *rapid.T) {
		o := runProp(t, scenariotest.Gen(scenariotest.GenOptions{Pools: []pools.Strategy{pools.Naive, pools.Respawn}, Options: true}).Draw(t, "scenario"))
		if o.Verdict == scenarios.Hang || o.Verdict == scenarios.Livelock {
			if len(o.Causes) == 0 {
				fail(t, "law 3: a hang or livelock with no named cause", o)
			}
			return
		}
		if o.Scenario.Wait.Ends() {
			// terminate() ends the wait: evidence of a hang means a job
			// it left unanswered, or terminate() raised.
			ended := slices.Contains(o.ErrorKinds(), scenarios.ErrKindTerminated) || slices.Contains(o.ErrorKinds(), scenarios.ErrKindTerminateRaised)
			if len(o.Evidence) > 0 && !ended {
				t.Logf("evidence: %v", o.Evidence)
				fail(t, "law 3: evidence of a hang, yet terminate() found every job answered", o)
			}
			return
		}
		waits := o.Scenario.Jobs > 0 || o.Scenario.Wait == scenarios.WaitJoin
		if o.Scenario.StopsAtFirstError() && o.Verdict == scenarios.Raised {
			waits = false // a chunked imap's caller stopped at its first error
		}
		if waits && len(o.Evidence) > 0 && !slices.Contains(o.ErrorKinds(), scenarios.ErrKindInterrupted) {
			// (A Ctrl-C answers an interruptible caller with
			// KeyboardInterrupt, whatever the pool lost.)
			t.Logf("evidence: %v", o.Evidence)
			fail(t, "law 3: evidence of a hang, yet the caller was answered", o)
		}
	})
}

// Law 4: with no faults, every strategy returns the same, correct results.
func TestPropertyFaultFreeStrategiesAgree(t *testing.T) {
	reportFailures(t)
	// 50 scenarios, each run on all seven strategies; POOLHANG_SEARCH=N
	// draws N.
	withFlags(t, map[string]string{"rapid.checks": searchSize("50")}, func() { rapid.Check(t, faultFreeStrategiesAgree) })
}

func faultFreeStrategiesAgree(t *rapid.T) {
	sc := scenariotest.Gen(scenariotest.GenOptions{Pools: []pools.Strategy{pools.Naive}, Keep: scenariotest.NoFaults}).Draw(t, "scenario")
	for _, s := range pools.Strategies() {
		if scenarios.WaitNA(s, sc.Wait) != "" {
			continue // the strategy has no such call
		}
		sc.Pool = s
		if sc.Validate() != nil {
			continue // a call style the strategy has not (failfast's imap), or an option it takes not
		}
		o := runProp(t, sc)
		ok, _, _ := o.Count()
		if o.Verdict != scenarios.Completed || ok != sc.Jobs {
			t.Logf("%s answered %d of %d jobs correctly", s, ok, sc.Jobs)
			fail(t, "law 4: a fault-free strategy disagrees", o)
		}
	}
}

// The hang search: for each strategy, a property-based search for a
// hanging scenario. Where one exists (naive, respawn, billiard, pebble) it
// must be found and shrunk to one worker, one fault or option, and at
// most two jobs: one the fault strikes, and one behind what it leaves held.
// Two are needed where the struck job itself is answered: billiard fails
// a job a worker acknowledged once its grace passes, so a worker killed
// mid-write (holding the result queue's write lock) fails its own job, and
// the hang is the next job's, whose acknowledgement can never be written.
// Where the pool is declared never to hang, the generated scenarios must
// find none. Law 1 is the second half.
func TestHangSearch(t *testing.T) {
	for _, s := range pools.Strategies() {
		t.Run(string(s), func(t *testing.T) {
			reportFailures(t)
			keep := func(k faults.Kind, ph faults.Phase) bool {
				return scenarios.NeverHangs(scenarios.Scenario{Pool: s, Faults: []scenarios.Fault{{Kind: k.Name, Phase: ph}}}) || !mayHangOnlyBy(s, k, ph)
			}
			// The pool options are drawn too, except for tracked: its only
			// one is an initializer that raises, answered by its restart
			// budget after 16 worker starts (the initializer section checks
			// it); drawn 1,000 times it doubled the search's time.
			gen := scenariotest.Gen(scenariotest.GenOptions{Pools: []pools.Strategy{s}, Keep: keep, Options: s != pools.Tracked})
			// rapid's last run replays the minimal failing case, so the
			// last hang found is the shrunk one.
			var found *scenarios.Scenario
			var seenOnce []string
			never := scenarios.NeverHangs(scenarios.Scenario{Pool: s})
			prop := func(rt *rapid.T) {
				sc := gen.Draw(rt, "scenario")
				if never && !scenarios.NeverHangs(sc) {
					sc.MaxTasks = 0 // an option declared to hang (failfast's 115634) is not searched for
				}
				if never && !scenarios.NeverHangs(sc) {
					sc.Initializer = "" // nor is pebble's failing initializer (the initializer section's hang)
				}
				if s == pools.Billiard {
					// Where billiard's workers retire its grace is
					// RetireGrace (1 s), and a hang there is proven only
					// once the grace has passed: rapid once shrank such a
					// hang through 130 runs of a second each (133 s). The
					// properties draw maxtasks for billiard; the search,
					// which has quicker hangs to find, does not.
					sc.MaxTasks = 0
				}
				o := runProp(rt, sc)
				if o.Verdict == scenarios.Hang || o.Verdict == scenarios.HangTimeout {
					if never && !hangsAgain(sc) {
						// A hang of a never-hang pool that two reruns do
						// not repeat is a race of the model under load:
						// logged with its replay, not failed on; one that
						// repeats fails the search.
						seenOnce = append(seenOnce, fmt.Sprintf("%s: %s once, then not in 2 reruns\n  replay: %s", sc, o.Verdict, sc.Command()))
						return
					}
					found = &o.Scenario
					fail(rt, "found a hang", o)
				}
			}
			if never {
				defer func() {
					for _, l := range seenOnce {
						t.Logf("SEEN ONCE: %s", l)
					}
				}()
				// 200 scenarios per pool keeps go test ./... inside its
				// 3 minutes on 2 cores with seven strategies;
				// POOLHANG_SEARCH=1000 runs the earlier 1,000.
				withFlags(t, map[string]string{"rapid.checks": searchSize("200")}, func() { rapid.Check(t, prop) })
				return
			}
			rec := &scenariotest.Recorder{Label: t.Name()}
			withFlags(t, map[string]string{"rapid.checks": "1000", "rapid.nofailfile": "true", "rapid.shrinktime": "5s"}, func() {
				rapid.Check(rec, prop)
			})
			if !rec.Fails || found == nil {
				t.Fatalf("no hanging scenario found for %s in 1,000 tries; the seed's case alone should hang", s)
			}
			sc := *found
			t.Logf("rapid shrank it to: %s", sc)
			sc = minimize(t, sc)
			t.Logf("minimal hanging scenario for %s: %s\n  replay: %s", s, sc, sc.Command())
			if sc.Workers != 1 || sc.Jobs > 2 || len(sc.Faults)+optionsSet(sc) != 1 {
				t.Errorf("the search did not shrink to one worker, at most two jobs and one fault or option: %s", sc)
			}
		})
	}
}

// Tracked never hangs and loses only the jobs a fault hit: with a deadline
// it survives tasks that never return too, and every other job is correct.
func TestPropertyTrackedLosesOnlyTheJobsHit(t *testing.T) {
	reportFailures(t)
	// 50 scenarios: each that stops or never returns waits out a 1 s
	// deadline; POOLHANG_SEARCH=N draws N.
	withFlags(t, map[string]string{"rapid.checks": searchSize("50")}, func() { rapid.Check(t, trackedLosesOnlyTheJobsHit) })
}

func trackedLosesOnlyTheJobsHit(t *rapid.T) {
	sc := scenariotest.Gen(scenariotest.GenOptions{Pools: []pools.Strategy{pools.Tracked}}).Draw(t, "scenario")
	// A deadline is wall-clock, as a supervisor's is: at 250 ms the
	// load of go test ./... on 2 cores starved healthy tasks past it,
	// and tracked rightly failed jobs no fault hit. A second holds.
	for _, f := range sc.Faults {
		if k, _ := faults.Lookup(f.Kind); k.Effect == faults.NeverReturns || k.Effect == faults.Stops || k.Effect == faults.BlocksAtStart {
			sc.Deadline = time.Second
		}
	}
	o := runProp(t, sc)
	if o.Verdict == scenarios.Hang || o.Verdict == scenarios.HangTimeout {
		fail(t, "tracked hung", o)
	}
	hit := map[int]bool{}
	interrupted := false
	for _, f := range sc.Faults {
		k, _ := faults.Lookup(f.Kind)
		// A Ctrl-C hurts no job of tracked's (its workers ignore
		// SIGINT); it ends the caller's wait.
		interrupted = interrupted || k.Effect == faults.Interrupted
		// big-result's job is answered with its (large) value; a
		// continued stop's job is answered late, unless a deadline
		// kills its worker first (it always does: sigstopcont.go).
		late := k.Effect == faults.StopsThenContinues && sc.Deadline <= 0
		if f.Job >= 0 && k.Effect != faults.Outsized && k.Effect != faults.Interrupted && !late {
			hit[f.Job] = true
		}
	}
	// An input that raises at job J produces nothing after it.
	for _, f := range sc.Faults {
		if f.Phase == faults.Input {
			for j := f.Job; j < sc.Jobs; j++ {
				hit[j] = true
			}
		}
	}
	for _, j := range o.Jobs {
		if j.Kind == scenarios.ErrKindInterrupted || interrupted && j.State != scenarios.JobOK {
			continue // a Ctrl-C ends the wait for every job the caller had not yet received
		}
		if (j.State == scenarios.JobOK) == hit[j.Job] {
			t.Logf("job %d: %s %s; hit by a fault: %v", j.Job, j.State, j.Error, hit[j.Job])
			fail(t, "tracked failed a job no fault hit, or answered one a fault hit", o)
		}
	}
}

// minimize finishes rapid's shrinking, which can stop at a local minimum:
// greedily, while the scenario still hangs, take its first one-step
// reduction that still hangs (Scenario.Smaller: a fault, a job, a worker,
// an option fewer, an earlier job or wait style). Every step runs the
// real scenario.
func minimize(t *testing.T, sc scenarios.Scenario) scenarios.Scenario {
	// A scenario can hang on one side of a race the model keeps, as the
	// real pool does (billiard: whether the other workers wrote their
	// results before one died mid-write holding the write lock), and a
	// loaded machine makes the other side likelier: once no reduction
	// hangs in one run, each is run twice more before the search stops.
	hangs := func(c scenarios.Scenario, runs int) bool {
		if c.Validate() != nil {
			return false
		}
		for range runs {
			if o, err := scenarios.Run(context.Background(), c); err == nil && o.Verdict == scenarios.Hang {
				return true
			}
		}
		return false
	}
	step := func(runs int) bool {
		for _, c := range sc.Smaller() {
			if hangs(c, runs) {
				sc = c
				return true
			}
		}
		return false
	}
	for step(1) || step(2) {
	}
	return sc
}

// mayHangOnlyBy reports whether kind k at phase ph is one a never-hang pool
// is allowed to hang on (a task that never returns, for a pool without
// deadlines; a death mid-frame, for failfast).
func mayHangOnlyBy(s pools.Strategy, k faults.Kind, ph faults.Phase) bool {
	return !scenarios.NeverHangs(scenarios.Scenario{Pool: s, Faults: []scenarios.Fault{{Kind: k.Name, Phase: ph}}}) &&
		scenarios.NeverHangs(scenarios.Scenario{Pool: s})
}

// hangsAgain reports whether sc hangs in one of two more runs.
func hangsAgain(sc scenarios.Scenario) bool {
	for range 2 {
		if o, err := scenarios.Run(context.Background(), sc); err == nil && (o.Verdict == scenarios.Hang || o.Verdict == scenarios.HangTimeout) {
			return true
		}
	}
	return false
}

// optionsSet counts the pool options sc sets (maxtasks=, initializer=,
// chunksize=).
func optionsSet(sc scenarios.Scenario) int { return len(sc.WithoutOptions()) }

// The law itself sees each way a failfast map's answer can be wrong.
func TestMapOrderLaw(t *testing.T) {
	ok := scenarios.JobOutcome{State: scenarios.JobOK}
	e := scenarios.JobOutcome{State: scenarios.JobError, Kind: scenarios.ErrKindTask, Error: "boom"}
	brk := scenarios.JobOutcome{State: scenarios.JobError, Kind: scenarios.ErrKindBroken, Error: "broken"}
	can := scenarios.JobOutcome{State: scenarios.JobCancelled}
	nd := scenarios.JobOutcome{State: scenarios.JobNotDelivered}
	for _, c := range []struct {
		name    string
		jobs    []scenarios.JobOutcome
		inOrder bool
		bad     bool
	}{
		{"all ok", []scenarios.JobOutcome{ok, ok}, true, false},
		{"raised, then cancelled and running", []scenarios.JobOutcome{ok, e, can, nd}, true, false},
		{"refused at a submit", []scenarios.JobOutcome{nd, brk, brk}, true, false},
		{"refused at the first submit", []scenarios.JobOutcome{brk, brk}, true, false},
		{"delivered after the failure", []scenarios.JobOutcome{e, ok}, true, true},
		{"two failures delivered", []scenarios.JobOutcome{ok, e, e}, true, true},
		{"not delivered before the failure", []scenarios.JobOutcome{nd, e, can}, true, true},
		{"cancelled with no failure", []scenarios.JobOutcome{ok, can}, true, true},
		{"cancelled outside a failfast map", []scenarios.JobOutcome{e, can}, false, true},
		{"every job answered elsewhere", []scenarios.JobOutcome{e, ok, e}, false, false},
	} {
		if msg := mapOrderLaw(c.jobs, c.inOrder, 1); (msg != "") != c.bad {
			t.Errorf("%s: law says %q, want bad=%v", c.name, msg, c.bad)
		}
	}
}
