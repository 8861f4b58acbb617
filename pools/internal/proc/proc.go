// Package proc starts a pool's worker processes and follows them to the
// end: a process is started with a pidfd and dies with its parent; its
// exit is watched in the runtime's netpoller without reaping it (waitid
// with WNOWAIT, the way a multiprocessing sentinel fires); reaping is a
// separate step, taken when the caller decides (2.6's pool only in join).
//
// It knows nothing of pools: which program a worker runs, its descriptors
// and environment, and what to record of a worker when it dies are the
// caller's.
package proc

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Exit is how a process ended.
type Exit struct {
	Code   int            // exit code, when Signal is 0
	Signal syscall.Signal // the signal that killed it, or 0
}

func (x Exit) String() string {
	if x.Signal != 0 {
		return "killed by " + signalName(x.Signal)
	}
	return fmt.Sprintf("exit code %d", x.Code)
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGBUS:
		return "SIGBUS"
	}
	return fmt.Sprintf("signal %d", int(s))
}

// A Process is a started process, followed until it is reaped.
type Process struct {
	PID   int
	os    *os.Process
	pidfd int
	// exited is closed once the process has ended (it may still be a
	// zombie: nobody has reaped it).
	exited chan struct{}

	mu     sync.Mutex
	status Exit
	dead   bool
	reaped bool
	// deadNow is dead, for Dead: set under mu once record has run.
	deadNow atomic.Bool
	// watchErr is why waitid failed, if it did, instead of reporting an
	// exit.
	watchErr error
}

// Start starts exe with args, env and files (its descriptors 0, 1, ...),
// in process group pgid (0: a new group that it leads). The process is
// sent SIGKILL when its parent dies, so a killed parent leaves no
// orphans. Its exit is not watched until Watch runs.
func Start(exe string, args, env []string, files []*os.File, pgid int) (*Process, error) {
	return startWith(exe, args, env, files, pgid, syscall.SIGKILL)
}

// StartOrphanable starts a process as Start does, but without the signal
// at its parent's death: a parent that is killed leaves it to whatever
// its own code does then, as CPython's pools leave their workers (the
// parent-killed fault, whose harness is a subreaper that ends them).
func StartOrphanable(exe string, args, env []string, files []*os.File, pgid int) (*Process, error) {
	return startWith(exe, args, env, files, pgid, 0)
}

func startWith(exe string, args, env []string, files []*os.File, pgid int, pdeathsig syscall.Signal) (*Process, error) {
	pidfd := -1
	attr := &os.ProcAttr{
		Env:   env,
		Files: files,
		Sys: &syscall.SysProcAttr{
			Pdeathsig: pdeathsig,
			Setpgid:   true,
			Pgid:      pgid,
			// A pidfd of our own (os.Process keeps a duplicate), so that
			// the exit is watched without a thread blocked per process.
			PidFD: &pidfd,
		},
	}
	p, err := os.StartProcess(exe, args, attr)
	if err != nil {
		return nil, err
	}
	return &Process{PID: p.Pid, os: p, pidfd: pidfd, exited: make(chan struct{})}, nil
}

// Watch waits for the process to end without reaping it, then marks it
// dead; record, if not nil, runs as it is marked, under the lock State
// takes, so what it records is there for whoever sees the process dead.
// It runs once per process, in its own goroutine.
func (pr *Process) Watch(record func()) {
	info, err := waitExit(pr.PID, pr.pidfd)
	pr.mu.Lock()
	if !pr.dead {
		if err == nil {
			pr.status = exitFromSiginfo(&info)
		} else {
			pr.watchErr = err // should not happen: the caller says so
		}
		pr.dead = true
		if record != nil {
			record()
		}
		pr.deadNow.Store(true)
	}
	pr.mu.Unlock()
	close(pr.exited)
}

// Exited is closed once the process has ended.
func (pr *Process) Exited() <-chan struct{} { return pr.exited }

// IsDead reports whether the process has ended.
func (pr *Process) IsDead() bool {
	select {
	case <-pr.exited:
		return true
	default:
		return false
	}
}

// Dead is State's dead without its lock, for a loop that asks it of every
// worker on every turn: true once the process is marked dead and what
// Watch recorded is there.
func (pr *Process) Dead() bool { return pr.deadNow.Load() }

// State returns how the process ended (once dead), whether it has ended
// and whether it has been reaped.
func (pr *Process) State() (x Exit, dead, reaped bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.status, pr.dead, pr.reaped
}

// WatchErr is why watching the exit failed, if it did.
func (pr *Process) WatchErr() error {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.watchErr
}

// Reap waits for the process to end and reaps it. first is true for the
// call that reaped it; it is the only place a process stops being a
// zombie.
func (pr *Process) Reap() (x Exit, first bool) {
	<-pr.exited
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.reaped {
		return pr.status, false
	}
	st, err := pr.os.Wait()
	if err == nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok {
			pr.status = exitFromStatus(ws)
		}
	}
	pr.reaped = true
	return pr.status, true
}

// Kill sends SIGKILL; an error means the process is already gone.
func (pr *Process) Kill() { pr.Signal(syscall.SIGKILL) }

// Signal sends sig, unless the process is reaped. It holds the lock Reap
// takes: os.Process closes its pidfd only when the last signal sent
// through it returns, so a signal from another goroutine that overlapped
// the reap would keep the descriptor open past it, and a pool that had
// reaped every worker would still hold one.
func (pr *Process) Signal(sig os.Signal) error {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.reaped {
		return os.ErrProcessDone
	}
	return pr.os.Signal(sig)
}

// waitExit waits, without reaping, for the process to end. It parks on
// the pidfd in the runtime's netpoller (a pidfd turns readable when its
// process exits), so 64 waiting workers cost no OS thread each; waitid
// with WNOHANG then reads the status. Without a pidfd it blocks a thread
// in waitid, as before.
func waitExit(pid, pidfd int) (unix.Siginfo, error) {
	var info unix.Siginfo
	if pidfd < 0 {
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				return info, err
			}
		}
	}
	unix.SetNonblock(pidfd, true) // so os.NewFile hands it to the netpoller
	f := os.NewFile(uintptr(pidfd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return info, err
	}
	var werr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			info = unix.Siginfo{}
			werr = unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
			if werr != unix.EINTR && werr != unix.EAGAIN {
				break
			}
			if werr == unix.EAGAIN {
				return false
			}
		}
		return werr != nil || siginfoPID(&info) != 0
	})
	if err != nil {
		return info, err
	}
	return info, werr
}

// siginfo_t for SIGCHLD on Linux: si_code at 8, si_pid at 16, si_status at 24.
func siginfoPID(info *unix.Siginfo) int32 {
	b := (*[128]byte)(unsafe.Pointer(info))
	return *(*int32)(unsafe.Pointer(&b[16]))
}

func exitFromSiginfo(info *unix.Siginfo) Exit {
	b := (*[128]byte)(unsafe.Pointer(info))
	code := *(*int32)(unsafe.Pointer(&b[8]))
	status := *(*int32)(unsafe.Pointer(&b[24]))
	switch code {
	case 2, 3: // CLD_KILLED, CLD_DUMPED
		return Exit{Signal: syscall.Signal(status)}
	}
	return Exit{Code: int(status)}
}

func exitFromStatus(ws syscall.WaitStatus) Exit {
	if ws.Signaled() {
		return Exit{Signal: ws.Signal()}
	}
	return Exit{Code: ws.ExitStatus()}
}
