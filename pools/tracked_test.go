package pools_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"golang.org/x/sys/unix"
)

// crash-once crashes the worker (a real SIGSEGV, via the catalog's action)
// the first time a task carrying it runs, and lets it through after: the
// marker file is the only memory across processes.
func init() {
	pools.RegisterAction("crash-once", func(s *pools.Strike) error {
		dir := os.Getenv("CRASH_ONCE_DIR")
		f, err := os.OpenFile(filepath.Join(dir, "crashed"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil // crashed before: run normally
		}
		f.Close()
		return pools.RunAction("segfault", pools.PointTaskRun)
	})
	pools.RegisterAction("exit-zero", func(s *pools.Strike) error { os.Exit(0); return nil })
}

func withFault(t pools.Task, kind string, ph faults.Phase) pools.Task {
	k, err := faults.Lookup(kind)
	if err != nil {
		panic(err)
	}
	t.Triggers = append(t.Triggers, k.Trigger(ph))
	return t
}

func TestTrackedWorkerLostCarriesPIDSignalPhase(t *testing.T) {
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	ts := squares(6)
	ts[2] = withFault(ts[2], "segfault", faults.TaskRun)
	rs, err := p.Map(ctx(t), ts)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if i == 2 {
			var wl *pools.WorkerLost
			if !errors.As(r.Err, &wl) || wl.Status.Signal != syscall.SIGSEGV || wl.Phase != "task-run" || wl.PID == 0 || wl.Attempts != 1 {
				t.Fatalf("job 2: %#v (%v), want WorkerLost by SIGSEGV in task-run", wl, r.Err)
			}
			continue
		}
		if v, _ := pools.Int(r.Value); r.Err != nil || v != int64(i*i) {
			t.Errorf("job %d: %d, %v", i, v, r.Err)
		}
	}
	// The dead worker is replaced: two live workers again.
	for c := ctx(t); len(workerPIDs(p.Snapshot())) != 2; {
		if c.Err() != nil {
			t.Fatalf("%d live workers after the crash, want 2", len(workerPIDs(p.Snapshot())))
		}
		time.Sleep(time.Millisecond)
	}
}

// A worker that exits with code 0 in the middle of a task is a death too
// (pebble misses it).
func TestTrackedNoticesExitZeroMidTask(t *testing.T) {
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	task := pools.Square(4)
	task.Triggers = []pools.Trigger{{Action: "exit-zero", At: pools.PointTaskRun}}
	rs, _ := p.Map(ctx(t), []pools.Task{task, pools.Square(5)})
	var wl *pools.WorkerLost
	if !errors.As(rs[0].Err, &wl) || wl.Status.Code != 0 || wl.Status.Signal != 0 {
		t.Fatalf("job 0: %v, want WorkerLost with exit code 0", rs[0].Err)
	}
	if v, _ := pools.Int(rs[1].Value); v != 25 {
		t.Errorf("job 1: %d, %v", v, rs[1].Err)
	}
}

func TestTrackedRetriesIdempotentTasks(t *testing.T) {
	t.Setenv("CRASH_ONCE_DIR", t.TempDir())
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 2, Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	once := pools.Square(9)
	once.Idempotent = true
	once.Triggers = []pools.Trigger{{Action: "crash-once", At: pools.PointTaskRun}}
	always := withFault(pools.Square(3), "segfault", faults.TaskRun)
	always.Idempotent = true
	notIdem := withFault(pools.Square(2), "segfault", faults.TaskRun)
	rs, err := p.Map(ctx(t), []pools.Task{once, always, notIdem})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := pools.Int(rs[0].Value); rs[0].Err != nil || v != 81 {
		t.Errorf("crash-once idempotent task: %d, %v; want 81 after one retry", v, rs[0].Err)
	}
	var wl *pools.WorkerLost
	if !errors.As(rs[1].Err, &wl) || wl.Attempts != 3 {
		t.Errorf("always-crashing idempotent task: %v, want WorkerLost after 3 attempts", rs[1].Err)
	}
	if !errors.As(rs[2].Err, &wl) || wl.Attempts != 1 {
		t.Errorf("non-idempotent task: %v, want WorkerLost after 1 attempt", rs[2].Err)
	}
}

func TestTrackedRestartBudgetFailsFast(t *testing.T) {
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 1, RestartBudget: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	var ts []pools.Task
	for i := 0; i < 10; i++ {
		ts = append(ts, withFault(pools.Square(int64(i)), "segfault", faults.TaskRun))
	}
	rs, err := p.Map(ctx(t), ts)
	if err != nil {
		t.Fatal(err)
	}
	lost, budget := 0, 0
	for _, r := range rs {
		var wl *pools.WorkerLost
		switch {
		case errors.As(r.Err, &wl):
			lost++
		case errors.Is(r.Err, pools.ErrRestartBudget):
			budget++
		default:
			t.Errorf("unexpected result %v", r.Err)
		}
	}
	if lost != 4 || budget != 6 {
		t.Errorf("%d lost, %d failed by the budget; want 4 (the first worker and 3 replacements) and 6", lost, budget)
	}
	if _, err := p.Submit(ctx(t), pools.Square(1)); !errors.Is(err, pools.ErrRestartBudget) {
		t.Errorf("submit after the budget: %v, want ErrRestartBudget", err)
	}
}

func TestTrackedDeadline(t *testing.T) {
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 2, TaskTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	ts := squares(4)
	ts[1] = withFault(ts[1], "stuck", faults.TaskRun)
	rs, err := p.Map(ctx(t), ts)
	if err != nil {
		t.Fatal(err)
	}
	var de *pools.DeadlineError
	if !errors.Is(rs[1].Err, context.DeadlineExceeded) || !errors.As(rs[1].Err, &de) {
		t.Fatalf("stuck job: %v, want an error matching context.DeadlineExceeded", rs[1].Err)
	}
	for _, i := range []int{0, 2, 3} {
		if v, _ := pools.Int(rs[i].Value); rs[i].Err != nil || v != int64(i*i) {
			t.Errorf("job %d: %d, %v", i, v, rs[i].Err)
		}
	}
}

// A tracked worker's task pipe has its read end in the worker alone, so
// what it holds comes from the pipe's counters, not FIONREAD.
func TestTrackedIdleWorkerDetail(t *testing.T) {
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	for c := ctx(t); ; time.Sleep(time.Millisecond) {
		for _, w := range p.Snapshot().Parties {
			if w.Role == pools.RoleWorker && w.Wait != nil && w.Wait.Kind == pools.WaitTaskPipe {
				if w.Wait.Detail != "0 bytes buffered" {
					t.Fatalf("idle worker: %q, want 0 bytes buffered", w.Wait.Detail)
				}
				return
			}
		}
		if c.Err() != nil {
			t.Fatal("the worker never waited on its task pipe")
		}
	}
}

// A replacement that cannot start (no descriptor is left for its pipes:
// RLIMIT_NOFILE is lowered below every free descriptor number once the
// pool runs) counts against the restart budget and is owed again, so the
// pool tries within its budget and then breaks: the queued jobs and Join
// answer, with the budget's error and the start's, instead of waiting for
// a worker that will never come.
func TestTrackedFailedReplacementBreaksThePool(t *testing.T) {
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 1, RestartBudget: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	low := orig
	low.Cur = 3 // stdin, stdout, stderr: every new descriptor is refused
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &orig)
	var fs []*pools.Future
	for _, task := range []pools.Task{withFault(pools.Square(0), "segfault", faults.TaskRun), pools.Square(1), pools.Square(2)} {
		f, err := p.Submit(ctx(t), task)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, f := range fs {
		r, err := f.Wait(c)
		if err != nil {
			t.Fatalf("job %d: %v: the pool never answered", i, err)
		}
		t.Logf("job %d: %v", i, r.Err)
		var wl *pools.WorkerLost
		switch {
		case i == 0 && !errors.As(r.Err, &wl):
			t.Errorf("job 0 (crashes its worker): err = %v, want WorkerLost", r.Err)
		case i > 0 && (!errors.Is(r.Err, pools.ErrRestartBudget) || !errors.Is(r.Err, syscall.EMFILE)):
			t.Errorf("job %d (queued): err = %v, want ErrRestartBudget with the start's EMFILE", i, r.Err)
		}
	}
	if err := p.Join(c); err != nil {
		t.Errorf("Join: %v", err)
	}
}

// A snapshot reads the supervisor's deadline bookkeeping and never
// writes it: a look from another goroutine must not move a job's
// deadline. The worker waits at a point for a signal from outside, the
// state in which the supervisor restarts the deadline each time it looks,
// so a snapshot that looked the same way would move it. The supervisor
// waits on its timer meanwhile, not ready: it has nothing to do, and the
// clock is what wakes it.
func TestTrackedSnapshotLeavesDeadlinesAlone(t *testing.T) {
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 1, TaskTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	if _, err := p.Submit(ctx(t), withFault(pools.Square(3), "sigkill", faults.TaskRun)); err != nil {
		t.Fatal(err)
	}
	for c := ctx(t); !awaitsSignal(p.Snapshot()); {
		if c.Err() != nil {
			t.Fatal("the worker never reached task-run's point")
		}
		time.Sleep(time.Millisecond)
	}
	before := pools.TrackedDeadlines(p)
	for range 3 {
		time.Sleep(time.Millisecond) // so that a write of the time would show
		s := p.Snapshot()
		for _, q := range s.Parties {
			if q.ID == "supervisor" && (q.Wait == nil || q.Wait.Ready || !slices.Contains(q.Wait.Releasers, pools.Clock)) {
				t.Errorf("supervisor: %+v, want a wait that is not ready, released by the clock", q.Wait)
			}
		}
	}
	if after := pools.TrackedDeadlines(p); !slices.Equal(before, after) {
		t.Errorf("a snapshot moved the deadlines:\nbefore %q\nafter  %q", before, after)
	}
}

// awaitsSignal reports whether a worker of s waits at a point for a
// signal from outside.
func awaitsSignal(s pools.Snapshot) bool {
	for _, q := range s.Parties {
		if q.Worker && q.Exit == nil && q.Wait != nil && q.Wait.Kind == pools.WaitSignal {
			return true
		}
	}
	return false
}

// A task that never returns is killed one deadline after its worker took
// it: never before, since the deadline runs from the time the worker
// stamps in its slot as it takes the job (in the clock all processes
// share), and, on a quiet machine, well before a second deadline, since
// the supervisor sleeps until that deadline rather than until it next
// looks. Only the lower bound is exact; the upper one is loose, and the
// figure logged: speed lives in the benchmarks.
func TestTrackedDeadlineRunsFromTheTake(t *testing.T) {
	const d = 500 * time.Millisecond
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 1, TaskTimeout: d})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	f, err := p.Submit(ctx(t), withFault(pools.Square(3), "stuck", faults.TaskRun))
	if err != nil {
		t.Fatal(err)
	}
	var taken time.Time
	for c, ok := ctx(t), false; !ok; {
		if taken, ok = pools.TrackedTaken(p, f.Job()); !ok && c.Err() != nil {
			t.Fatal("the worker never stamped its take of the job")
		}
		time.Sleep(time.Millisecond)
	}
	answeredOneDeadlineAfter(t, f, d, taken, "the take")
}

// answeredOneDeadlineAfter waits for f and checks that it failed at its
// deadline d, no sooner than d after from (what the deadline counts
// from) and well under two.
func answeredOneDeadlineAfter(t *testing.T, f *pools.Future, d time.Duration, from time.Time, what string) {
	t.Helper()
	r, err := f.Wait(ctx(t))
	after := time.Since(from)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.As(r.Err, new(*pools.DeadlineError)) {
		t.Fatalf("job: %v, want a DeadlineError", r.Err)
	}
	t.Logf("deadline %v: killed and answered %v after %s", d, after, what)
	if after < d || after >= 2*d {
		t.Errorf("answered %v after %s, want at least the deadline %v and well under two (%v)", after, what, d, 2*d)
	}
}

// A worker waiting at a point for the harness's signal has, for its
// deadline, been struck already: its deadline does not run there, and
// once the wait ends (the worker stamps the end in its slot) it counts
// from then, not from the take. The worker takes the job, waits at
// task-decode for a Ctrl-C (which it ignores, so the task goes on) and
// then never returns from task-run: it is killed one deadline after the
// Ctrl-C, though the take was half a deadline earlier.
func TestTrackedDeadlineResumesAfterAPointWait(t *testing.T) {
	const d = 300 * time.Millisecond
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 1, TaskTimeout: d})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	task := withFault(withFault(pools.Square(3), "sigint", faults.TaskDecode), "stuck", faults.TaskRun)
	f, err := p.Submit(ctx(t), task)
	if err != nil {
		t.Fatal(err)
	}
	pid := 0
	for c := ctx(t); pid == 0; time.Sleep(time.Millisecond) {
		if c.Err() != nil {
			t.Fatal("the worker never reached task-decode's point")
		}
		for _, q := range p.Snapshot().Parties {
			if q.Worker && q.Exit == nil && q.Wait != nil && q.Wait.Kind == pools.WaitSignal {
				pid = q.PID
			}
		}
	}
	time.Sleep(d / 2) // waiting at the point: the deadline does not run
	if ds := pools.TrackedDeadlines(p); len(ds) != 1 || !strings.HasSuffix(ds[0], "(runs false)") {
		t.Errorf("while the worker waits at the point: %q, want a deadline that does not run", ds)
	}
	sent := time.Now()
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	answeredOneDeadlineAfter(t, f, d, sent, "the Ctrl-C that ended the wait")
}
