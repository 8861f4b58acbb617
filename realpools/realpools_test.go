package realpools_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolhang/poolhang/realpools"
)

func TestMain(m *testing.M) {
	realpools.MaybeServeReaper()
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperRun())
	}
	os.Exit(m.Run())
}

// A cell is a standard scenario (2 workers, 6 jobs, one map, the fault on
// job 2) and what the real pool must do, argued from its source.
type cell struct {
	pool, fault string
	want        realpools.Verdict
	class       string // the caller's error class, for raised
	why         string
}

func (c cell) scenario() string {
	return fmt.Sprintf("pool=%s workers=2 jobs=6 wait=map fault=%s", c.pool, c.fault)
}

// CPython 3.11 (Debian's /usr/bin/python3), Lib/multiprocessing/pool.py
// and Lib/concurrent/futures/process.py.
var cpythonCells = []cell{
	{"py:mp.Pool", "raise@task-run:2", realpools.Raised, "poolhang_driver.InjectedError",
		"worker() catches Exception around func and sends (False, e); map raises it"},
	{"py:mp.Pool", "raise@task-encode:2", realpools.Raised, "poolhang_driver.InjectedError",
		"_handle_tasks catches Exception from put(task) and sets the job's error (3.x)"},
	{"py:mp.Pool", "raise@result-encode:2", realpools.Raised, "multiprocessing.pool.MaybeEncodingError",
		"worker() wraps a result that fails to pickle in MaybeEncodingError"},
	{"py:mp.Pool", "raise@task-decode:2", realpools.NoAnswer, "",
		"worker() guards get() against EOFError/OSError only: the unpickling error ends the worker holding job 2, which _maintain_pool replaces without answering the job"},
	{"py:mp.Pool", "sigkill@task-run:2", realpools.NoAnswer, "",
		"_handle_workers replaces the killed worker; nothing ever sets job 2, so map waits forever"},
	{"py:mp.Pool", "segfault@task-run:2", realpools.NoAnswer, "",
		"as sigkill: a crash in the function loses the job (the seed's hang, with respawn)"},
	{"py:mp.Pool", "sigkill@idle-lock-holder", realpools.NoAnswer, "",
		"SimpleQueue.get holds the read lock while blocked in recv; killed, nobody releases it, so every other worker and every replacement block on it (python/cpython issue 96062)"},
	{"py:mp.Pool", "sigkill@idle-lock-waiter", realpools.Completed, "",
		"an idle worker holding nothing dies; _maintain_pool replaces it and the lock holder serves the map"},
	{"py:mp.Pool", "reader-memory-error@result-decode:2", realpools.NoAnswer, "",
		"_handle_results catches only OSError/EOFError around get(): the MemoryError ends the result handler"},
	{"py:mp.Pool", "stuck@task-run:2", realpools.NoAnswer, "", "the task never returns and Pool has no deadline"},

	{"py:ProcessPoolExecutor", "sigkill@task-run:2", realpools.Raised, "concurrent.futures.process.BrokenProcessPool",
		"_ExecutorManagerThread sees the dead worker's sentinel and breaks the pool (terminate_broken)"},
	{"py:ProcessPoolExecutor", "sys-exit@task-run:2", realpools.Raised, "SystemExit",
		"_process_worker catches BaseException around the call and returns the SystemExit as job 2's exception"},
	{"py:ProcessPoolExecutor", "raise@result-decode:2", realpools.Raised, "concurrent.futures.process.BrokenProcessPool",
		"wait_result_broken_or_wakeup: an error unpickling a result breaks the pool"},
	{"py:ProcessPoolExecutor", "sigkill@idle-lock-holder", realpools.Raised, "concurrent.futures.process.BrokenProcessPool",
		"any death while the executor is in use breaks it; the dead lock holder blocks nobody because the pool terminates its workers"},
	{"py:ProcessPoolExecutor", "sigkill@result-encode:2", realpools.Raised, "concurrent.futures.process.BrokenProcessPool",
		"killed while pickling the result, before any byte is on the pipe: the manager sees the sentinel and breaks the pool"},
	{"py:ProcessPoolExecutor", "sigkill@result-write:2", realpools.NoAnswer, "",
		"mid-frame: wait_result_broken_or_wakeup reads the result pipe first; once part of a frame is in, result_reader.recv() blocks for the rest, which never comes, and the manager never looks at the sentinels again"},
	{"py:ProcessPoolExecutor", "stuck@task-run:2", realpools.NoAnswer, "", "the task never returns and the executor has no deadline"},
}

// The peers (Debian bookworm: billiard 4.1, joblib 1.2 with loky 3.3,
// pebble 5.0).
var peerCells = []cell{
	{"py:billiard", "sigkill@task-run:2", realpools.Raised, "billiard.einfo.ExceptionWithTraceback",
		"the worker ACKed job 2 before running it; on its death the job gets WorkerLostError once lost_worker_timeout (10 s) has passed (Pool._on_job_ready, mark_as_worker_lost)"},
	{"py:billiard", "raise@task-encode:2", realpools.NoAnswer, "",
		"TaskHandler.body catches the pickling error but reads job, ind = task[:2] from (TASK, (job, i, ...)): the cache lookup fails with KeyError, which it swallows, and job 2 is never answered"},
	{"py:loky", "sigkill@task-run:2", realpools.Raised, "joblib.externals.loky.process_executor.TerminatedWorkerError",
		"like ProcessPoolExecutor, the manager breaks the executor on a dead worker, naming its signal"},
	// pebble's death cells race: handle_worker_expiration fails the dead
	// worker's task only if the pool has already handled its ACK; with the
	// ACK still in the pipe, find_expired_task raises LookupError, which it
	// swallows, and the task is lost. So no death cell is asserted here.
	{"py:pebble", "raise@task-run:2", realpools.Raised, "poolhang_driver.InjectedError",
		"process_execute catches Exception in the worker and sends it back as job 2's RemoteException; map raises it"},
	{"py:pebble", "raise@task-decode:2", realpools.NoAnswer, "",
		"task_transaction unpickles the task inside channel.recv(), before the ACK: the worker dies and nobody knows it held job 2"},
}

func python(t *testing.T) string {
	t.Helper()
	py, err := realpools.FindPython()
	if err != nil {
		t.Skipf("SKIP real pools: %v", err)
	}
	return py
}

func available(t *testing.T) realpools.Availability {
	t.Helper()
	python(t)
	a, err := realpools.Available(context.Background(), realpools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// runAll runs the cells at once: a run mostly waits, and -test.parallel
// would hold them to GOMAXPROCS.
func runAll(t *testing.T, cells []cell) []result {
	t.Helper()
	out := make([]result, len(cells))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 12)
	for i, c := range cells {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out[i].o, out[i].err = realpools.Run(ctx, c.scenario(), realpools.Options{})
		}()
	}
	wg.Wait()
	return out
}

type result struct {
	o   realpools.Outcome
	err error
}

func check(t *testing.T, cells []cell, got []result) {
	for i, c := range cells {
		t.Run(strings.NewReplacer("py:", "", "@", "-at-", ":", "-").Replace(c.pool+"/"+c.fault), func(t *testing.T) {
			o, err := got[i].o, got[i].err
			if err != nil {
				t.Fatalf("%s: %v", c.scenario(), err)
			}
			if o.Verdict != c.want {
				t.Fatalf("%s: got %s, want %s because %s\nworkers: %v\nthreads: %v\nevents: %v\nstderr: %s",
					c.scenario(), o.Summary(), c.want, c.why, o.Workers, o.Threads, o.Events, o.Stderr)
			}
			if c.class != "" && (o.CallError == nil || o.CallError.Class != c.class) {
				t.Errorf("%s: got %s, want the call to raise %s because %s", c.scenario(), o.Summary(), c.class, c.why)
			}
			if len(o.Struck) == 0 && o.IdleStrike == nil {
				t.Errorf("%s: the fault never struck: %v", c.scenario(), o.Events)
			}
			if o.Verdict == realpools.NoAnswer && len(o.Threads) == 0 {
				t.Errorf("%s: no-answer without the parent's thread stacks", c.scenario())
			}
			t.Logf("%s: %s", c.scenario(), o.Summary())
		})
	}
}

func TestCPythonCells(t *testing.T) {
	t.Parallel()
	python(t)
	check(t, cpythonCells, runAll(t, cpythonCells))
}

func TestPeerCells(t *testing.T) {
	// The real runs mostly wait: these run two at a time, after the
	// sequential tests that count this process's descriptors.
	t.Parallel()
	a := available(t)
	var cells []cell
	var missing []string
	for _, c := range peerCells {
		if st := a.PoolStatus[c.pool]; st.OK {
			cells = append(cells, c)
		} else if !strings.Contains(strings.Join(missing, " "), c.pool) {
			missing = append(missing, c.pool+" ("+st.Error+")")
		}
	}
	if len(missing) > 0 {
		t.Logf("SKIP peers that do not import in %s: %s; install them with %s", a.Python, strings.Join(missing, ", "), realpools.Install)
	}
	if len(cells) == 0 {
		t.Skipf("no peer imports in %s; install them with %s", a.Python, realpools.Install)
	}
	got := runAll(t, cells)
	check(t, cells, got)
	for i, c := range cells {
		if c.pool == "py:billiard" && c.want == realpools.Raised && got[i].o.Took() < 10*time.Second {
			t.Errorf("%s answered in %s, before billiard's 10 s lost_worker_timeout", c.scenario(), got[i].o.Took())
		}
	}
}

// The driver's own checks, before any pool starts: a bad scenario is
// bad input, and what a pool has no way to do is n/a with the reason.
func TestBadInput(t *testing.T) {
	python(t)
	ctx := context.Background()
	for _, tc := range []struct {
		scenario string
		want     error
		says     string
	}{
		{"pool=respawn workers=2 jobs=6", realpools.ErrUnknownPool, "allowed: py:mp.Pool"},
		{"workers=2 jobs=6", realpools.ErrBadScenario, "no pool="},
		{"pool=py:mp.Pool workers=2 jobs=6 fault=explode@task-run:2", realpools.ErrBadScenario, "unknown fault kind"},
		{"pool=py:mp.Pool workers=2 jobs=6 fault=sigkill@task-encode:2", realpools.ErrBadScenario, "impossible fault"},
		{"pool=py:mp.Pool workers=2 jobs=6 fault=sigkill@task-run:9", realpools.ErrBadScenario, "targets job 9"},
		{"pool=py:mp.Pool workers=2 jobs=6 deadline=500ms", realpools.ErrBadScenario, "tracked model"},
		{"pool=py:pebble workers=2 jobs=6 fault=sigkill@idle-lock-holder", realpools.ErrNotApplicable, "channel.poll()"},
		{"pool=py:mp.Pool workers=2 jobs=6 wait=map fault=raise@callback:2", realpools.ErrBadScenario, "only with wait=callback"},
		{"pool=py:mp.Pool workers=2 jobs=6 wait=callback fault=sigkill@callback:2", realpools.ErrBadScenario, "impossible fault"},
		{"pool=py:mp.Pool workers=2 jobs=6 wait=get chunksize=2", realpools.ErrBadScenario, "imap's argument"},
		{"pool=py:ProcessPoolExecutor workers=2 jobs=6 wait=imap fault=raise@input:2", realpools.ErrNotApplicable, "has no imap"},
		// The pool options: a bad value is bad input, and an option a
		// pool has no argument for is n/a with the reason.
		{"pool=py:mp.Pool workers=2 jobs=6 maxtasks=0", realpools.ErrBadScenario, "maxtasks=0, allowed 1 to 4096"},
		{"pool=py:mp.Pool workers=2 jobs=6 maxtasks=many", realpools.ErrBadScenario, "not a whole number"},
		{"pool=py:mp.Pool workers=2 jobs=6 initializer=ok", realpools.ErrBadScenario, "allowed raise"},
		{"pool=py:mp.Pool workers=2 jobs=6 chunksize=3 wait=get", realpools.ErrBadScenario, "imap's argument"},
		{"pool=py:ProcessPoolExecutor workers=2 jobs=6 chunksize=3 wait=imap", realpools.ErrNotApplicable, "has no imap"},
		{"pool=py:loky workers=2 jobs=6 maxtasks=2", realpools.ErrNotApplicable, "no tasks-per-worker limit"},
	} {
		_, err := realpools.Run(ctx, tc.scenario, realpools.Options{Stall: realpools.MinStall})
		if errors.Is(tc.want, realpools.ErrNotApplicable) && errors.Is(err, realpools.ErrMissingModule) {
			t.Logf("SKIP %q: %v", tc.scenario, err)
			continue
		}
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: got error %v, want %v saying %q", tc.scenario, err, tc.want, tc.says)
		}
	}
	_, err := realpools.Run(ctx, "pool=py:mp.Pool workers=2 jobs=6", realpools.Options{Python: "/nonexistent/python3"})
	if !errors.Is(err, realpools.ErrNoPython) {
		t.Errorf("missing Python: got %v, want ErrNoPython", err)
	}
}
