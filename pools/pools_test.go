package pools_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
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

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/internal/fdcount"
	"github.com/poolhang/poolhang/pools"
)

// The test binary is also the worker binary: started by a pool it serves
// as a worker and never runs the tests (as os/exec's helper processes do).
func TestMain(m *testing.M) {
	pools.MaybeServeWorker()
	if s := os.Getenv("POOLS_HELPER_HOLD"); s != "" {
		holdPool(pools.Strategy(s))
	}
	goleak.VerifyTestMain(actionsCovered{m})
}

// actionsCovered runs the tests and then, on a full run, fails if some
// registered action was named by no trigger and is no fault kind's: an
// action nothing uses is untested (os/exec checks its helper commands the
// same way).
type actionsCovered struct{ m *testing.M }

func (a actionsCovered) Run() int {
	code := a.m.Run()
	if code != 0 || flag.Lookup("test.run").Value.String() != "" || testing.Short() {
		return code
	}
	kinds := map[string]bool{}
	for _, k := range faults.Kinds() {
		kinds[k.Action] = true
	}
	for _, name := range pools.Actions() {
		if !kinds[name] && !pools.ActionUsed(name) {
			fmt.Fprintf(os.Stderr, "action %q is registered but no test and no fault kind uses it\n", name)
			code = 1
		}
	}
	return code
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

// strategies are the pools the tests run: every registered strategy. One
// that fails to start fails the test, so no test passes having tested
// nothing.
func strategies(t *testing.T) []pools.Strategy {
	t.Helper()
	all := pools.Strategies()
	if len(all) == 0 {
		t.Fatal("no strategy is registered")
	}
	for _, s := range all {
		p, err := pools.Start(s, pools.Options{Workers: 1})
		if err != nil {
			t.Fatalf("%s does not start: %v", s, err)
		}
		p.Terminate()
	}
	return all
}

func TestMapCloseJoin(t *testing.T) {
	for _, s := range strategies(t) {
		for _, workers := range []int{1, 2, 3, 4, 5, 6, 7, 8} {
			for _, jobs := range []int{0, 1, 1000} {
				t.Run(fmt.Sprintf("%s/w%d/j%d", s, workers, jobs), func(t *testing.T) {
					fds := fdcount.Count(t)
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
					if got := fdcount.Count(t); got != fds {
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
				p, leftNothing := startTwo(t, s)
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
				leftNothing()
				if f != nil {
					if r, ok := f.Result(); !ok || r.Err == nil {
						t.Errorf("a job pending at Terminate: resolved=%v err=%v", ok, r.Err)
					}
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

// A failed start closes everything it opened. Starts are made to fail at
// every step (the region, the pipes, a worker's start) by lowering
// RLIMIT_NOFILE to a few descriptors above what is open, one more each
// time; whether a start fails or not, the descriptor count afterwards is
// what it was.
func TestFailedStartLeaksNoDescriptor(t *testing.T) {
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &orig)
	for _, s := range strategies(t) {
		t.Run(string(s), func(t *testing.T) {
			failed := 0
			for extra := 0; extra <= 24; extra++ {
				before := fdcount.Count(t)
				low := orig
				low.Cur = uint64(before + extra)
				if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
					t.Fatal(err)
				}
				p, err := pools.Start(s, pools.Options{Workers: 3})
				if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
					t.Fatal(err)
				}
				if err == nil {
					p.Terminate()
				} else {
					failed++
				}
				if got := fdcount.Count(t); got != before {
					t.Errorf("limit %d (start failed: %v): open descriptors %d before, %d after", low.Cur, err, before, got)
				}
			}
			if failed == 0 {
				t.Fatal("no start failed: the limits were too high to test anything")
			}
			t.Logf("%d of 25 starts failed", failed)
		})
	}
}

// The parent watches worker exits on pidfds in the netpoller, not with a
// thread blocked in waitid per worker: with 64 idle workers it has far
// fewer than 64 threads (RLIMIT_NPROC counts them; root, as here, is not
// held to it, so the threads are counted instead).
func TestWatchingExitsTakesNoThreadPerWorker(t *testing.T) {
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: pools.MaxWorkers})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	c := ctx(t)
	for {
		idle := 0
		for _, w := range p.Snapshot().Parties {
			if w.Worker && w.Exit == nil && w.Idle && w.Wait != nil {
				idle++
			}
		}
		if idle == pools.MaxWorkers {
			break
		}
		if c.Err() != nil {
			t.Fatalf("only %d of %d workers became idle", idle, pools.MaxWorkers)
		}
		time.Sleep(time.Millisecond)
	}
	es, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d threads with %d idle workers", len(es), pools.MaxWorkers)
	if len(es) >= 32 {
		t.Errorf("%d threads with %d idle workers: want far fewer than one per worker", len(es), pools.MaxWorkers)
	}
}

// A task frame larger than the worker's limit is refused, and its body
// skipped: read as frames, the body below would forge an answer for the
// next job. The first 1,028 bytes of the body parse as one frame with a
// job nobody asked for; then comes a forged frame for job 1 (echo
// "FORGED!!"), then a filler frame that takes the rest.
func TestTrackedWorkerSkipsARefusedFrame(t *testing.T) {
	const limit = 1024
	arg := make([]byte, 2048)
	arg[10] = 0                                    // the stray frame's trigger count
	copy(arg[11:], []byte{0xff, 0xff, 0xff, 0xff}) // and an impossible name: it fails to decode
	frame := func(job int64, fn, a string) []byte {
		var body []byte
		body = append(body, 0) // no triggers
		body = binary.LittleEndian.AppendUint32(body, uint32(len(fn)))
		body = append(body, fn...)
		body = binary.LittleEndian.AppendUint32(body, uint32(len(a)))
		body = append(body, a...)
		b := binary.LittleEndian.AppendUint32(nil, uint32(19+len(body)))
		b = binary.LittleEndian.AppendUint64(b, uint64(job))
		b = append(b, make([]byte, 11)...) // no allocation trigger
		return append(b, body...)
	}
	forged := frame(1, "echo", "FORGED!!")
	copy(arg[1015:], forged)
	rest := len(arg) - 1015 - len(forged)
	copy(arg[1015+len(forged):], frame(1000, "echo", strings.Repeat("x", rest-23-13)))

	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 1, MaxTaskFrame: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	rs, err := p.Map(ctx(t), []pools.Task{{Func: "echo", Arg: arg}, pools.Square(5)})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(rs[0].Err, pools.ErrAllocation) && !strings.Contains(fmt.Sprint(rs[0].Err), "cannot allocate") {
		t.Errorf("job 0 (a %d-byte body, limit %d): err = %v, want the worker's refusal", len(arg)+13, limit, rs[0].Err)
	}
	if v, err := pools.Int(rs[1].Value); err != nil || v != 25 || rs[1].Err != nil {
		t.Errorf("square(5) came back as %q, %v: the worker read a frame out of a refused body", rs[1].Value, rs[1].Err)
	}
}

// A body of 4 GiB or more would wrap the frame's 4-byte length: it is
// refused before anything is copied. The argument is never touched, so
// its pages are never made resident.
func TestFrameOf4GiBIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("reserves 4 GiB of address space")
	}
	p, err := pools.Start(pools.Tracked, pools.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	huge := make([]byte, 1<<32)
	f, err := p.Submit(ctx(t), pools.Task{Func: "echo", Arg: huge})
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Wait(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(r.Err, pools.ErrFrameTooLarge) {
		t.Errorf("a 4 GiB argument: err = %v, want ErrFrameTooLarge", r.Err)
	}
}
