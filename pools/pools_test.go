package pools_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/pools"
)

// The test binary is also the worker binary: started by a pool it serves
// as a worker and never runs the tests (as os/exec's helper processes do).
func TestMain(m *testing.M) {
	pools.MaybeServeWorker()
	if s := os.Getenv("POOLS_HELPER_HOLD"); s != "" {
		holdPool(pools.Strategy(s))
	}
	goleak.VerifyTestMain(m)
}

// holdPool is a helper process: it starts a pool, keeps every worker
// busy in an hour-long task (an idle worker would exit by itself when its
// task pipe reaches end of file), prints the workers' pids once they all
// run, and blocks until it is killed.
func holdPool(s pools.Strategy) {
	p, err := pools.Start(s, pools.Options{Workers: 3})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for i := 0; i < 3; i++ {
		p.Submit(context.Background(), pools.Sleep(time.Hour))
	}
	for {
		running := 0
		for _, w := range p.Snapshot().Parties {
			if w.Worker && w.Exit == nil && w.Phase == "task-run" {
				running++
			}
		}
		if running == 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, pid := range workerPIDs(p.Snapshot()) {
		fmt.Println(pid)
	}
	fmt.Println("ready")
	select {}
}

func squares(n int) []pools.Task {
	ts := make([]pools.Task, n)
	for i := range ts {
		ts[i] = pools.Square(int64(i))
	}
	return ts
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// strategies are the pools this file runs; Tracked joins once it exists.
func strategies(t *testing.T) []pools.Strategy {
	var out []pools.Strategy
	for _, s := range pools.Strategies() {
		p, err := pools.Start(s, pools.Options{Workers: 1})
		if err != nil {
			t.Logf("%s: %v", s, err)
			continue
		}
		p.Terminate()
		out = append(out, s)
	}
	return out
}

func TestMapCloseJoin(t *testing.T) {
	for _, s := range strategies(t) {
		for _, workers := range []int{1, 2, 3, 4, 5, 6, 7, 8} {
			for _, jobs := range []int{0, 1, 1000} {
				t.Run(fmt.Sprintf("%s/w%d/j%d", s, workers, jobs), func(t *testing.T) {
					fds := openFDs(t)
					p, err := pools.Start(s, pools.Options{Workers: workers})
					if err != nil {
						t.Fatal(err)
					}
					pids := workerPIDs(p.Snapshot())
					if len(pids) != workers {
						t.Fatalf("snapshot shows %d workers, want %d", len(pids), workers)
					}
					rs, err := p.Map(ctx(t), squares(jobs))
					if err != nil {
						t.Fatal(err)
					}
					for i, r := range rs {
						v, err := pools.Int(r.Value)
						if r.Err != nil || err != nil || v != int64(i*i) {
							t.Fatalf("job %d: value %d, err %v %v; want %d", i, v, r.Err, err, i*i)
						}
					}
					if err := p.Close(); err != nil {
						t.Fatal(err)
					}
					if err := p.Join(ctx(t)); err != nil {
						t.Fatal(err)
					}
					for _, pid := range pids {
						assertReaped(t, pid)
					}
					if err := p.Terminate(); err != nil {
						t.Fatal(err)
					}
					if got := openFDs(t); got != fds {
						t.Errorf("open descriptors: %d before, %d after", fds, got)
					}
				})
			}
		}
	}
}

func TestSubmitWaitInOrder(t *testing.T) {
	for _, s := range strategies(t) {
		t.Run(string(s), func(t *testing.T) {
			p, err := pools.Start(s, pools.Options{Workers: 3})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Terminate()
			tasks := []pools.Task{pools.Square(7), pools.Echo(200_000), pools.Fail("boom"), pools.Sleep(time.Millisecond), pools.Echo(0)}
			var fs []*pools.Future
			for _, task := range tasks {
				f, err := p.Submit(ctx(t), task)
				if err != nil {
					t.Fatal(err)
				}
				fs = append(fs, f)
			}
			for i, f := range fs {
				if f.Job() != i {
					t.Errorf("future %d has job id %d", i, f.Job())
				}
				r, err := f.Wait(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				switch i {
				case 0:
					if v, _ := pools.Int(r.Value); v != 49 || r.Err != nil {
						t.Errorf("square(7) = %d, %v", v, r.Err)
					}
				case 1:
					if !bytes.Equal(r.Value, pools.Payload(200_000)) || r.Err != nil {
						t.Errorf("echo of 200000 bytes came back as %d bytes, %v", len(r.Value), r.Err)
					}
				case 2:
					var te *pools.TaskError
					if !errors.As(r.Err, &te) || te.Msg != "boom" {
						t.Errorf("fail: err = %v, want TaskError boom", r.Err)
					}
				default:
					if r.Err != nil {
						t.Errorf("job %d: %v", i, r.Err)
					}
				}
			}
		})
	}
}

// Terminate must work from any state: fresh, busy, closed, joined,
// terminated, and while another goroutine is blocked in Join.
func TestTerminateFromAnyState(t *testing.T) {
	states := map[string]func(t *testing.T, p pools.Pool){
		"fresh": func(t *testing.T, p pools.Pool) {},
		"busy": func(t *testing.T, p pools.Pool) {
			for i := 0; i < 20; i++ {
				p.Submit(ctx(t), pools.Sleep(50*time.Millisecond))
			}
		},
		"closed": func(t *testing.T, p pools.Pool) { p.Close() },
		"joined": func(t *testing.T, p pools.Pool) {
			p.Close()
			if err := p.Join(ctx(t)); err != nil {
				t.Fatal(err)
			}
		},
		"terminated": func(t *testing.T, p pools.Pool) { p.Terminate() },
		"joining": func(t *testing.T, p pools.Pool) {
			p.Submit(ctx(t), pools.Sleep(time.Hour))
			p.Close()
			go p.Join(context.Background())
		},
	}
	for _, s := range strategies(t) {
		for name, setup := range states {
			t.Run(string(s)+"/"+name, func(t *testing.T) {
				fds := openFDs(t)
				p, err := pools.Start(s, pools.Options{Workers: 2})
				if err != nil {
					t.Fatal(err)
				}
				pids := workerPIDs(p.Snapshot())
				var f *pools.Future
				if name != "joined" && name != "terminated" {
					f, _ = p.Submit(ctx(t), pools.Sleep(time.Hour))
				}
				setup(t, p)
				done := make(chan struct{})
				go func() { p.Terminate(); close(done) }()
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					t.Fatal("Terminate did not return")
				}
				for _, pid := range pids {
					assertReaped(t, pid)
				}
				if f != nil {
					if r, ok := f.Result(); !ok || r.Err == nil {
						t.Errorf("a job pending at Terminate: resolved=%v err=%v", ok, r.Err)
					}
				}
				if got := openFDs(t); got != fds {
					t.Errorf("open descriptors: %d before, %d after", fds, got)
				}
			})
		}
	}
}

func TestBadInput(t *testing.T) {
	if _, err := pools.Start("bogus", pools.Options{Workers: 1}); err == nil || !strings.Contains(err.Error(), "naive") {
		t.Errorf("unknown strategy: err = %v, want one listing the allowed names", err)
	}
	for _, n := range []int{0, -1, pools.MaxWorkers + 1} {
		if _, err := pools.Start(pools.Naive, pools.Options{Workers: n}); err == nil {
			t.Errorf("Workers=%d: no error", n)
		}
	}
	p, err := pools.Start(pools.Naive, pools.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	if _, err := p.Submit(ctx(t), pools.Task{Func: "square", Triggers: []pools.Trigger{{Action: "no-such-action", At: pools.PointTaskRun}}}); err == nil || !strings.Contains(err.Error(), "no-such-action") {
		t.Errorf("unknown action: err = %v", err)
	}
	r, err := p.Submit(ctx(t), pools.Task{Func: "no-such-func"})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := r.Wait(ctx(t))
	if res.Err == nil || !strings.Contains(res.Err.Error(), "square") {
		t.Errorf("unknown task function: err = %v, want one listing the registered ones", res.Err)
	}
	if err := p.Join(ctx(t)); err == nil {
		t.Error("Join on a running pool: no error")
	}
}

func workerPIDs(s pools.Snapshot) []int {
	var pids []int
	for _, p := range s.Parties {
		if p.Worker && p.Exit == nil {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// assertReaped checks that pid is no child of ours any more: neither alive
// nor a zombie.
func assertReaped(t *testing.T, pid int) {
	t.Helper()
	// WNOWAIT: never reap, the pid may belong to another child by now.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != unix.ECHILD {
		t.Errorf("worker %d not reaped: waitid = %v", pid, err)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// A test binary killed with SIGKILL leaves no workers behind: they die
// with their parent (PR_SET_PDEATHSIG). This test makes itself a child
// subreaper, so the orphans become its children: it reaps them and reads
// from their wait status that SIGKILL ended them.
func TestWorkersDieWithAKilledParent(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	for _, s := range strategies(t) {
		t.Run(string(s), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "POOLS_HELPER_HOLD="+string(s))
			// If this test binary dies (a timeout), so does the helper.
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var pids []int
			sc := bufio.NewScanner(out)
			for sc.Scan() && sc.Text() != "ready" {
				pid, err := strconv.Atoi(sc.Text())
				if err != nil {
					t.Fatalf("helper said %q", sc.Text())
				}
				pids = append(pids, pid)
			}
			if len(pids) != 3 {
				t.Fatalf("helper reported %d workers, want 3", len(pids))
			}
			cmd.Process.Kill()
			cmd.Wait()
			c := ctx(t)
			for _, pid := range pids {
				for {
					var ws syscall.WaitStatus
					got, _ := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
					if got == pid {
						if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
							t.Errorf("worker %d ended with status %#x, want killed by SIGKILL", pid, uint32(ws))
						}
						break
					}
					if c.Err() != nil {
						syscall.Kill(pid, syscall.SIGKILL)
						t.Fatalf("worker %d outlived its killed parent", pid)
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
}
