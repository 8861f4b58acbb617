package realpools

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// reaperEnv carries the reaper's job to the re-executed binary.
const reaperEnv = "POOLHANG_REALPOOLS_REAPER"

// The lifeline: the reaper reads fd 3 and the Go side holds the write end.
// EOF means the Go side cancelled the run or died.
const fdLifeline = 3

type reaperSpec struct {
	Python string   `json:"python"`
	Args   []string `json:"args"`
	Dir    string   `json:"dir"`
}

// reaperStatus is the reaper's last stdout line, written once every
// process of the run is dead and reaped.
type reaperStatus struct {
	ExitCode int    `json:"exit_code"`
	Signal   string `json:"signal,omitempty"`
	Killed   bool   `json:"killed_by_reaper,omitempty"`
	Reaped   int    `json:"reaped"`
}

// MaybeServeReaper turns this process into a run's reaper if Run started
// it as one, and never returns then. Every binary that calls Run must call
// it first thing in main (or TestMain), as pools.MaybeServeWorker.
func MaybeServeReaper() {
	spec, ok := os.LookupEnv(reaperEnv)
	if !ok {
		return
	}
	os.Exit(serveReaper(spec))
}

func serveReaper(specText string) int {
	var spec reaperSpec
	if err := json.Unmarshal([]byte(specText), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "poolhang reaper: bad %s: %v\n", reaperEnv, err)
		return 2
	}
	defer os.RemoveAll(spec.Dir)
	// Orphans of the run (workers whose Python parent died) become our
	// children, so we can kill and reap every one of them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "poolhang reaper:", err)
		return 2
	}
	// Pdeathsig fires when the thread that started the child ends.
	runtime.LockOSThread()
	cmd := exec.Command(spec.Python, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ()[:0:0], withoutReaperEnv(os.Environ())...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "poolhang reaper:", err)
		return 2
	}
	pgid := cmd.Process.Pid
	lifeline := os.NewFile(fdLifeline, "lifeline")
	cut := make(chan struct{})
	go func() {
		io.Copy(io.Discard, lifeline)
		close(cut)
	}()
	done := make(chan struct{})
	var ws syscall.WaitStatus
	go func() {
		// Wait4 on the driver's pid only, so no orphan's status is taken
		// before the sweep below.
		for {
			_, err := syscall.Wait4(pgid, &ws, 0, nil)
			if err != syscall.EINTR {
				break
			}
		}
		close(done)
	}()
	st := reaperStatus{}
	select {
	case <-done:
	case <-cut:
		st.Killed = true
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	switch {
	case ws.Exited():
		st.ExitCode = ws.ExitStatus()
	case ws.Signaled():
		st.ExitCode = -1
		st.Signal = unix.SignalName(ws.Signal())
	}
	st.Reaped = sweep(pgid)
	os.RemoveAll(spec.Dir)
	// The Go side may be gone: a write to its pipe must not kill us
	// with SIGPIPE (nothing is left to clean up by now anyway).
	signal.Ignore(syscall.SIGPIPE)
	b, _ := json.Marshal(map[string]reaperStatus{"reaper": st})
	os.Stdout.Write(append([]byte("\n"), append(b, '\n')...))
	return 0
}

// sweep kills the driver's process group and every child of ours (the
// orphans reparented to us), and reaps them until we have no child left.
// Because we are a subreaper, a live descendant always has a live or
// unreaped ancestor among our children, so ECHILD means none is left.
func sweep(pgid int) int {
	n := 0
	for {
		syscall.Kill(-pgid, syscall.SIGKILL)
		for _, pid := range children(os.Getpid()) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(-1, &ws, 0, nil)
		switch err {
		case nil:
			n++
		case syscall.EINTR:
		default:
			return n // ECHILD
		}
	}
}

// children lists the pids whose parent is ppid, from /proc.
func children(ppid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}

func withoutReaperEnv(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, reaperEnv+"=") {
			out = append(out, e)
		}
	}
	return out
}
