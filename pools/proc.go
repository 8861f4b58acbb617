package pools

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/poolhang/poolhang/pools/internal/shm"
	"golang.org/x/sys/unix"
)

// A proc is one worker process.
type proc struct {
	idx  int // its slot in the region
	seq  int // its place in the pool, from 1 in start order (Party.Slot)
	pid  int
	os   *os.Process
	task *pipe // the pipe it reads tasks from
	res  *pipe // the pipe it writes results to
	// exited is closed once the process has ended (it may still be a
	// zombie: nobody has reaped it).
	exited chan struct{}

	mu     sync.Mutex
	status Exit
	dead   bool
	reaped bool
	last   wstate // the slot's state when it died, for WorkerLost
	// watchErr is why waitid failed, if it did, instead of reporting an
	// exit.
	watchErr error
	lastJob  int64
}

// spawn starts a worker process in a free slot. pipes gives the pipes it
// reads tasks from and writes results to (its descriptors 4 and 5): the
// shared ones, or new private ones counted in the slot.
func (c *core) spawn(pipes func(s slot) (task, res *pipe, err error)) (*proc, error) {
	idx, ok := c.takeSlot()
	if !ok {
		return nil, fmt.Errorf("pools: more than %d live workers", shm.MaxSlots)
	}
	s := slotOf(c.reg, idx)
	s.Reset(0)
	task, res, err := pipes(s)
	if err != nil {
		c.freeSlot(idx)
		return nil, err
	}
	pidfd := -1
	attr := &os.ProcAttr{
		Env:   append(environWithout(workerEnv), fmt.Sprintf("%s=%s %d %s", workerEnv, c.strategy, idx, c.secret)),
		Files: []*os.File{c.devnull, c.devnull, c.stderr, c.reg.File(), task.r, res.w},
		Sys: &syscall.SysProcAttr{
			// Workers die with their parent, so a killed test run
			// leaves no orphans.
			Pdeathsig: syscall.SIGKILL,
			// A pidfd of our own (os.Process keeps a duplicate), so that
			// the exit is watched without a thread blocked per worker.
			PidFD: &pidfd,
		},
	}
	// -test.run=^$ keeps a test binary that forgot MaybeServeWorker from
	// running its tests in every worker.
	p, err := os.StartProcess(c.exe, []string{c.exe, "-test.run=^$"}, attr)
	if err != nil {
		c.freeSlot(idx)
		return nil, fmt.Errorf("pools: start worker: %w", err)
	}
	pr := &proc{idx: idx, pid: p.Pid, os: p, task: task, res: res, exited: make(chan struct{}), lastJob: -1}
	s.PID().Store(uint32(p.Pid))
	c.reg.Bump()
	c.watch.Add(1)
	go c.watchProc(pr, pidfd)
	return pr, nil
}

// environWithout is the environment without key, so that a value this
// process inherited never reaches a worker ahead of the one it is given
// (the first of two entries wins).
func environWithout(key string) []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// watchProc waits for the process to end without reaping it, the way a
// sentinel fires: the strategy decides when to reap (2.6 only in join).
func (c *core) watchProc(pr *proc, pidfd int) {
	defer c.watch.Done()
	info, err := waitExit(pr.pid, pidfd)
	pr.mu.Lock()
	if !pr.dead {
		if err == nil {
			pr.status = exitFromSiginfo(&info)
		} else {
			pr.watchErr = err // should not happen: say so in snapshots
		}
		pr.dead = true
		s := slotOf(c.reg, pr.idx)
		pr.last = s.state()
		pr.lastJob = s.Job().Load()
	}
	pr.mu.Unlock()
	close(pr.exited)
	c.reg.Bump()
	notify(c.died)
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

// reap waits for the process (it must have exited or be about to) and frees
// its slot. It is the only place a worker stops being a zombie.
func (c *core) reap(pr *proc) Exit {
	<-pr.exited
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.reaped {
		return pr.status
	}
	st, err := pr.os.Wait()
	if err == nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok {
			pr.status = exitFromStatus(ws)
		}
	}
	pr.reaped = true
	c.freeSlot(pr.idx)
	c.reg.Bump()
	return pr.status
}

// kill sends SIGKILL; an error means the process is already gone.
func (c *core) kill(pr *proc) {
	pr.os.Kill()
}

func (pr *proc) isDead() bool { return isClosed(pr.exited) }

func (pr *proc) exit() (Exit, bool, bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.status, pr.dead, pr.reaped
}

func (c *core) takeSlot() (int, bool) {
	c.slotMu.Lock()
	defer c.slotMu.Unlock()
	for i, used := range c.slotUsed {
		if !used {
			c.slotUsed[i] = true
			return i, true
		}
	}
	return 0, false
}

func (c *core) freeSlot(i int) {
	c.slotMu.Lock()
	c.slotUsed[i] = false
	c.slotMu.Unlock()
}

// A pipe as the parent holds it. Like multiprocessing's queues, the parent
// keeps both ends of a shared pipe (lsof in the seed shows them), so a
// reader in the parent never sees end-of-file while the parent lives.
type pipe struct {
	name    string
	r, w    *os.File
	written *atomic.Int64 // bytes written, counted by every writer
	read    *atomic.Int64 // bytes read, counted by the reader
	bump    func()
}

// send writes b (one write(2)) and counts what went out.
func (p *pipe) send(b []byte) error {
	n, err := p.w.Write(b)
	p.written.Add(int64(n))
	p.bump()
	return err
}

// readReady reports whether a reader of p with frame progress (have,
// need) can move: bytes wait in the pipe, or it took bytes it has not yet
// counted, or it holds a whole frame it has yet to handle. The counters
// are read in an order that can only err towards "ready".
func (p *pipe) readReady(have, need *atomic.Int64) bool {
	r := p.read.Load()
	b := int64(max(p.buffered(), 0)) // a closed pipe holds nothing
	w := p.written.Load()
	h, n := have.Load(), need.Load()
	return b > 0 || w-r-b > 0 || (n > 0 && h == n)
}

// newPipe makes a pipe. The end the parent reads (pollR) or writes (pollW)
// in a goroutine is non-blocking, so closing it wakes that goroutine; the
// ends workers inherit stay blocking (O_NONBLOCK belongs to the open file,
// which the parent and its workers share), so a worker waits in read(2)
// and write(2) as CPython's do.
func newPipe(name string, pollR, pollW bool, written, read *atomic.Int64, bump func()) (*pipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("pools: %s: %w", name, err)
	}
	if pollR {
		unix.SetNonblock(fds[0], true)
	}
	if pollW {
		unix.SetNonblock(fds[1], true)
	}
	return &pipe{name: name, r: os.NewFile(uintptr(fds[0]), name+"-r"), w: os.NewFile(uintptr(fds[1]), name+"-w"),
		written: written, read: read, bump: bump}, nil
}

func (p *pipe) close() {
	p.r.Close()
	p.w.Close()
}

// buffered is how many bytes wait in the pipe (FIONREAD); -1 if closed.
func (p *pipe) buffered() int {
	n := -1
	if rc, err := p.r.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if v, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil {
				n = v
			}
		})
	}
	return n
}

// unread is how many bytes were written to p and not yet read: what
// FIONREAD says while the parent holds the read end, else (a private pipe
// whose read end only its worker keeps) the difference of the pipe's
// counters, which also counts bytes a reader has taken and not yet
// counted.
func (p *pipe) unread() int64 {
	if n := p.buffered(); n >= 0 {
		return int64(n)
	}
	return p.written.Load() - p.read.Load()
}

func (p *pipe) capacity() int {
	n := 65536
	if rc, err := p.r.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if v, err := unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0); err == nil {
				n = v
			}
		})
	}
	return n
}
