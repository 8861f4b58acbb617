package proc

import (
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/poolhang/poolhang/internal/fdcount"
)

func start(t *testing.T, args ...string) *Process {
	t.Helper()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	p, err := Start("/bin/sh", append([]string{"sh", "-c"}, args...), nil, []*os.File{devnull, devnull, devnull}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A process's exit is seen without reaping it (it stays a zombie, and
// /proc still lists it) until Reap, which reaps it once.
func TestWatchThenReap(t *testing.T) {
	for _, c := range []struct {
		name string
		kill bool
		want Exit
	}{
		{"exit 3", false, Exit{Code: 3}},
		{"killed", true, Exit{Signal: syscall.SIGKILL}},
	} {
		t.Run(c.name, func(t *testing.T) {
			script := "exit 3"
			if c.kill {
				script = "exec sleep 60"
			}
			p := start(t, script)
			recorded := false
			done := make(chan struct{})
			go func() { p.Watch(func() { recorded = true }); close(done) }()
			if c.kill {
				p.Kill()
			}
			<-p.Exited()
			<-done
			x, dead, reaped := p.State()
			if !dead || reaped || x != c.want || !recorded || !p.IsDead() || p.WatchErr() != nil {
				t.Fatalf("State() = %v, dead %v, reaped %v, recorded %v, watch error %v; want %v, dead, not reaped, recorded", x, dead, reaped, recorded, p.WatchErr(), c.want)
			}
			if _, err := os.Stat("/proc/" + strconv.Itoa(p.PID)); err != nil {
				t.Errorf("the unreaped process is gone from /proc: %v", err)
			}
			if x, first := p.Reap(); x != c.want || !first {
				t.Errorf("Reap() = %v, %v; want %v, true", x, first, c.want)
			}
			if _, first := p.Reap(); first {
				t.Error("a second Reap reaped again")
			}
			if _, err := os.Stat("/proc/" + strconv.Itoa(p.PID)); err == nil {
				t.Error("the reaped process is still in /proc")
			}
		})
	}
}

func TestExitString(t *testing.T) {
	for x, want := range map[Exit]string{
		{Code: 1}:                    "exit code 1",
		{Signal: syscall.SIGSEGV}:    "killed by SIGSEGV",
		{Signal: syscall.Signal(63)}: "killed by signal 63",
	} {
		if got := x.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", x, got, want)
		}
	}
}

// Reap leaves no descriptor of the process open, even while other
// goroutines signal it: a pool that has reaped every worker counts the
// same descriptors as before it started them (its Terminate and a
// Join still killing can overlap).
func TestReapClosesEvenWhileSignalled(t *testing.T) {
	for i := 0; i < 50; i++ {
		before := fdcount.Count(t)
		p := start(t, "exec sleep 60")
		go p.Watch(nil)
		stop := make(chan struct{})
		signalled := make(chan struct{})
		for range 4 {
			go func() {
				defer func() { signalled <- struct{}{} }()
				for {
					select {
					case <-stop:
						return
					default:
						p.Signal(syscall.Signal(0))
					}
				}
			}()
		}
		p.Kill()
		p.Reap()
		after := fdcount.Count(t)
		close(stop)
		for range 4 {
			<-signalled
		}
		if after != before {
			t.Fatalf("run %d: %d descriptors before the process, %d once it was reaped", i, before, after)
		}
	}
}
