package proc

import (
	"os"
	"strconv"
	"syscall"
	"testing"
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
