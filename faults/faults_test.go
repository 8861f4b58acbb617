package faults_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// The test binary doubles as a helper process (as in os/exec's tests) and
// as a pool worker.
func TestMain(m *testing.M) {
	pools.MaybeServeWorker()
	if kind := os.Getenv("FAULTS_HELPER"); kind != "" {
		k, err := faults.Lookup(kind)
		if err == nil {
			err = pools.RunAction(k.Action, pools.PointTaskRun)
		}
		os.Stderr.WriteString("helper survived: " + kind + ": " + errString(err))
		os.Exit(99)
	}
	os.Exit(m.Run())
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// helper runs a fault's action in a fresh process of this binary and
// returns how that process ended, from its wait status.
func helper(t *testing.T, kind string) syscall.WaitStatus {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FAULTS_HELPER="+kind)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Exited() && ws.ExitStatus() == 99 {
		t.Fatalf("%s: the process survived its fault: %s", kind, stderr.String())
	}
	return ws
}

// A segfault is the kernel killing the process for a real invalid access:
// the wait status says signaled by SIGSEGV, not a Go panic's exit code 2.
func TestSegfaultIsARealSIGSEGV(t *testing.T) {
	ws := helper(t, "segfault")
	if !ws.Signaled() || ws.Signal() != syscall.SIGSEGV {
		t.Fatalf("wait status %#x: signaled=%v signal=%v exit=%d; want killed by SIGSEGV", uint32(ws), ws.Signaled(), ws.Signal(), ws.ExitStatus())
	}
	if ws.CoreDump() {
		t.Error("a core was dumped; the action sets RLIMIT_CORE to 0")
	}
}

func TestOSExitEndsAtOnce(t *testing.T) {
	ws := helper(t, "os-exit")
	if !ws.Exited() || ws.ExitStatus() != faults.OSExitCode {
		t.Fatalf("wait status %#x, want exit code %d", uint32(ws), faults.OSExitCode)
	}
}

// exit0 is a real exit_group(0): the wait status says exited with code
// 0, not signalled, exactly what a retiring worker leaves.
func TestExit0IsACleanExit(t *testing.T) {
	ws := helper(t, "exit0")
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("wait status %#x: exited=%v code=%d signaled=%v; want exit code 0", uint32(ws), ws.Exited(), ws.ExitStatus(), ws.Signaled())
	}
}

// A SIGKILL fault is a worker stopped at its point, killed by a real signal
// from outside: run one in a pool and read the worker's end.
func TestSIGKILLLandsAtThePoint(t *testing.T) {
	p, k, ctx := submitStruck(t, 1, "sigkill")
	var pid int
	for pid == 0 {
		for _, w := range p.Snapshot().Parties {
			if w.Worker && w.Stopped == "task-run" && w.Job == 0 {
				pid = w.PID
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the worker never stopped at task-run")
		}
	}
	if err := p.Signal(pid, k.Signal); err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		for _, w := range p.Snapshot().Parties {
			if w.PID == pid && w.Exit != nil {
				if w.Exit.Signal != syscall.SIGKILL || w.Phase != "task-run" || w.Job != 0 {
					t.Fatalf("worker ended %s in %s holding job %d; want SIGKILL in task-run holding job 0", w.Exit, w.Phase, w.Job)
				}
				return
			}
		}
	}
	t.Fatal("the worker did not die")
}

// A sigstop fault is a real SIGSTOP: the kernel shows the worker in state
// T where it stopped, holding its job, and the pool's SIGKILL at teardown
// ends and reaps it all the same.
func TestSIGSTOPIsARealStop(t *testing.T) {
	p, _, ctx := submitStruck(t, 1, "sigstop")
	pid := stoppedAtTaskRun(ctx, t, p)
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) == 0 || f[0] != "T" {
		t.Errorf("/proc/%d/stat says %q; want state T", pid, stat)
	}
	p.Terminate()
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != unix.ECHILD {
		t.Errorf("after Terminate, the stopped worker %d is still a child (waitid: %v)", pid, err)
	}
}

// A Ctrl-C is a real SIGINT to the workers' own process group, which the
// harness is not in: in 2.6's Pool (naive) every worker raises
// KeyboardInterrupt, which `except Exception` does not catch, and ends
// with code 1; the harness goes on.
func TestSIGINTReachesEveryWorkerAndNotTheHarness(t *testing.T) {
	p, k, ctx := submitStruck(t, 2, "sigint")
	// Struck once the target is at its point and no worker is still
	// starting (a forked Python worker has its handler from birth).
	var pids []int
	for len(pids) == 0 && ctx.Err() == nil {
		s := p.Snapshot()
		at, ready := false, true
		for _, w := range s.Parties {
			at = at || w.Worker && w.Stopped == "task-run" && w.Job == 0
			ready = ready && !w.Starting
		}
		for _, w := range s.Parties {
			if at && ready && w.Worker {
				pids = append(pids, w.PID)
			}
		}
	}
	for _, pid := range pids {
		if pg, err := unix.Getpgid(pid); err != nil || pg == unix.Getpgrp() {
			t.Fatalf("worker %d is in process group %d (%v), the harness's is %d", pid, pg, err, unix.Getpgrp())
		}
	}
	if err := p.SignalGroup(k.Signal); err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		ended := 0
		for _, w := range p.Snapshot().Parties {
			if w.Worker && w.Exit != nil {
				if w.Exit.Signal != 0 || w.Exit.Code != 1 {
					t.Fatalf("worker %d ended %s; want exit code 1 (an uncaught KeyboardInterrupt)", w.PID, w.Exit)
				}
				ended++
			}
		}
		if ended == len(pids) {
			return
		}
	}
	t.Fatalf("not every worker of %v ended after the SIGINT", pids)
}

// submitStruck starts a naive pool of n workers and submits square(3)
// with kind's trigger at task-run; the pool is terminated at cleanup.
func submitStruck(t *testing.T, n int, kind string) (pools.Pool, faults.Kind, context.Context) {
	t.Helper()
	p, err := pools.Start(pools.Naive, pools.Options{Workers: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Terminate() })
	k, err := faults.Lookup(kind)
	if err != nil {
		t.Fatal(err)
	}
	task := pools.Square(3)
	task.Triggers = []pools.Trigger{k.Trigger(faults.TaskRun)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	if _, err := p.Submit(ctx, task); err != nil {
		t.Fatal(err)
	}
	return p, k, ctx
}

func TestCatalog(t *testing.T) {
	names := map[string]bool{}
	for _, k := range faults.Kinds() {
		names[k.Name] = true
		if k.Models == "" || k.Effect == "" || len(k.Phases) == 0 {
			t.Errorf("%s: incomplete kind: %+v", k.Name, k)
		}
		if k.Signal == 0 {
			found := false
			for _, a := range pools.Actions() {
				found = found || a == k.Action
			}
			if !found {
				t.Errorf("%s: action %q is not registered", k.Name, k.Action)
			}
		}
		// Every phase is either meaningful, with a reason, or refused, with one.
		for _, ph := range faults.Phases() {
			why, ok := k.Phases[ph.Phase]
			if ok && why == "" {
				t.Errorf("%s@%s: meaningful without a reason", k.Name, ph.Phase)
			}
			err := k.Check(pools.Naive, ph.Phase, 2)
			if ok != (err == nil) {
				t.Errorf("%s@%s: meaningful=%v but Check = %v", k.Name, ph.Phase, ok, err)
			}
			if err != nil && !errors.Is(err, faults.ErrImpossible) {
				t.Errorf("%s@%s: %v does not wrap ErrImpossible", k.Name, ph.Phase, err)
			}
		}
	}
	for _, want := range []string{"raise", "sys-exit", "os-exit", "sigkill", "segfault", "reader-memory-error"} {
		if !names[want] {
			t.Errorf("catalog lacks %s", want)
		}
	}
	if _, err := faults.Lookup("meteor"); err == nil || !strings.Contains(err.Error(), "allowed: raise, sys-exit") {
		t.Errorf("Lookup(meteor) = %v", err)
	}
	if _, err := faults.ParsePhase("lunch"); err == nil || !strings.Contains(err.Error(), "task-encode") {
		t.Errorf("ParsePhase(lunch) = %v", err)
	}
}
