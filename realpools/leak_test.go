package realpools_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/realpools"
)

const helperEnv = "REALPOOLS_HELPER_RUN"

// helperRun is a test binary that runs one scenario and waits: the
// killed-parent test SIGKILLs it mid-run.
func helperRun() int {
	_, err := realpools.Run(context.Background(), os.Getenv(helperEnv), realpools.Options{Stall: time.Minute})
	fmt.Println(err)
	return 0
}

// descendants lists every process below pid, from /proc.
func descendants(pid int) []int {
	kids := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		pp, _ := strconv.Atoi(f[1])
		kids[pp] = append(kids[pp], p)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, k := range kids[p] {
			out = append(out, k)
			walk(k)
		}
	}
	walk(pid)
	return out
}

func cmdline(pid int) []string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.Split(string(b), "\x00")
}

// runningDriver lists the live processes whose command runs driver.
func runningDriver(driver string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) {
			continue
		}
		if a := cmdline(pid); len(a) > 1 && a[1] == driver {
			out = append(out, pid)
		}
	}
	return out
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0] != "Z"
}

// Like pools' TestWorkersDieWithAKilledParent: a process running a real
// pool is SIGKILLed mid-run; every process of the run (reaper, Python
// parent, workers) must die and be reaped.
func TestEveryProcessDiesWithAKilledParent(t *testing.T) {
	python(t)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	for _, pool := range []string{"py:mp.Pool", "py:ProcessPoolExecutor"} {
		t.Run(strings.TrimPrefix(pool, "py:"), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=pool="+pool+" workers=2 jobs=6 wait=map fault=stuck@task-run:2")
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The run is in place when the helper's reaper has a Python
			// parent with both workers below it. Every process of the run
			// has the run's own driver path in its command line.
			deadline := time.Now().Add(30 * time.Second)
			var run []int
			for {
				run = descendants(cmd.Process.Pid)
				if len(run) >= 4 {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("the run never started: %v", run)
				}
				time.Sleep(10 * time.Millisecond)
			}
			driver := ""
			for _, pid := range run {
				if a := cmdline(pid); len(a) > 1 && strings.HasSuffix(a[1], "poolhang_driver.py") {
					driver = a[1]
				}
			}
			if driver == "" {
				t.Fatalf("no driver among %v", run)
			}
			cmd.Process.Kill()
			cmd.Wait()
			// We are a subreaper: the orphaned reaper is our child now.
			deadline = time.Now().Add(20 * time.Second)
			for {
				left := runningDriver(driver)
				if len(left) == 0 {
					break
				}
				if time.Now().After(deadline) {
					for _, p := range left {
						syscall.Kill(p, syscall.SIGKILL)
					}
					t.Fatalf("processes %v of the run outlived the killed parent", left)
				}
				time.Sleep(5 * time.Millisecond)
			}
			for {
				if _, err := os.Stat(filepath.Dir(driver)); errors.Is(err, os.ErrNotExist) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the run's driver directory %s outlived it", filepath.Dir(driver))
				}
				time.Sleep(5 * time.Millisecond)
			}
			for {
				var ws syscall.WaitStatus
				if _, err := syscall.Wait4(-1, &ws, 0, nil); errors.Is(err, syscall.ECHILD) {
					break
				}
			}
			for _, pid := range run {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
					t.Errorf("process %d of the run is still there (not reaped)", pid)
				}
			}
		})
	}
}

// After answers, no-answers, cancellation and errors, nothing is left:
// no process, no goroutine, no descriptor, no driver directory.
func TestNothingLeftBehind(t *testing.T) {
	python(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// A private TMPDIR: the runs' driver directories land there, and other
	// packages' real runs, going on at the same time under go test ./...,
	// do not change the count.
	t.Setenv("TMPDIR", t.TempDir())
	before := fds(t)
	dirsBefore := driverDirs()
	ctx := context.Background()
	for _, sc := range []string{
		"pool=py:mp.Pool workers=2 jobs=6 wait=map",
		"pool=py:mp.Pool workers=2 jobs=6 wait=map fault=sigkill@task-run:2",
		"pool=py:ProcessPoolExecutor workers=2 jobs=6 wait=get fault=segfault@task-run:2",
		"pool=py:mp.Pool workers=2 jobs=6 wait=join fault=sigkill@idle-lock-holder",
		"pool=py:mp.Pool workers=2 jobs=6 wait=map fault=sigkill@task-run:9",
	} {
		o, err := realpools.Run(ctx, sc, realpools.Options{Stall: realpools.MinStall})
		t.Logf("%s: %s %v", sc, o.Summary(), err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(500 * time.Millisecond); cancel() }()
	if _, err := realpools.Run(cctx, "pool=py:mp.Pool workers=2 jobs=6 wait=map fault=stuck@task-run:2", realpools.Options{Stall: time.Minute}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: got %v, want context.Canceled", err)
	}
	if kids := descendants(os.Getpid()); len(kids) > 0 {
		t.Errorf("processes left: %v", kids)
	}
	if after := fds(t); after != before {
		t.Errorf("descriptors: %d before, %d after", before, after)
	}
	if after := driverDirs(); after != dirsBefore {
		t.Errorf("driver directories: %d before, %d after", dirsBefore, after)
	}
}

func fds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func driverDirs() int {
	m, _ := filepath.Glob(filepath.Join(os.TempDir(), "poolhang-realpools-*"))
	return len(m)
}
