package pools

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/poolhang/poolhang/pools/internal/frame"
	process "github.com/poolhang/poolhang/pools/internal/proc"
	"github.com/poolhang/poolhang/pools/internal/shm"
	"golang.org/x/sys/unix"
)

// Exit is how a worker process ended.
type Exit = process.Exit

// A proc is one worker process.
type proc struct {
	*process.Process
	idx  int   // its slot in the region
	seq  int   // its place in the pool, from 1 in start order (Party.Slot)
	task *pipe // the pipe it reads tasks from
	res  *pipe // the pipe it writes results to

	// Recorded as it is seen dead, under the process's lock.
	last    wstate // the slot's state when it died, for WorkerLost
	lastJob int64
	// resAt is the shared result pipe's written count when it was seen
	// dead: where its death falls in the stream of results (pebble).
	resAt int64
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
	if len(c.startTrig) > 0 && c.firstLeft.Add(-1) >= 0 {
		s.Start().Store(uint32(c.startTrig[0].ID))
		s.StartArg().Store(c.startTrig[0].Arg)
	}
	task, res, err := pipes(s)
	if err != nil {
		c.freeSlot(idx)
		return nil, err
	}
	env := append(environWithout(workerEnv), fmt.Sprintf("%s=%s %d %s", workerEnv, c.strategy, idx, c.secret))
	files := []*os.File{c.devnull, c.devnull, c.stderr, c.reg.File(), task.r, res.w}
	if d, ok := lookup(c.strategy); ok && d.Worker.HoldsQueueEnds {
		files = append(files, task.w, res.r) // descriptors 6 and 7, never used
	}
	// -test.run=^$ keeps a test binary that forgot MaybeServeWorker from
	// running its tests in every worker.
	p, err := c.group.start(c.exe, []string{c.exe, "-test.run=^$"}, env, files, c.opts.Orphanable)
	if err != nil {
		c.freeSlot(idx)
		return nil, fmt.Errorf("pools: start worker: %w", err)
	}
	pr := &proc{Process: p, idx: idx, task: task, res: res, lastJob: -1}
	s.PID().Store(uint32(p.PID))
	c.reg.Bump()
	c.watch.Add(1)
	go c.watchProc(pr)
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
// sentinel fires (the strategy decides when to reap: 2.6 only in join),
// and records what its slot said it was doing.
func (c *core) watchProc(pr *proc) {
	defer c.watch.Done()
	s := slotOf(c.reg, pr.idx)
	pr.Watch(func() {
		pr.last = s.state()
		pr.lastJob = s.Job().Load()
		pr.resAt = c.reg.SharedCounters().ResW.Load()
	})
	c.reg.Bump()
	notify(c.died)
}

// reap waits for the process (it must have exited or be about to) and
// frees its slot once it is reaped.
func (c *core) reap(pr *proc) Exit {
	x, first := pr.Reap()
	if first {
		c.freeSlot(pr.idx)
		c.reg.Bump()
	}
	return x
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

	closeOnce sync.Once
}

// send writes b (one write(2)) and counts what went out.
func (p *pipe) send(b []byte) error {
	n, err := p.w.Write(b)
	p.written.Add(int64(n))
	p.bump()
	return err
}

// roomFor is the readiness of the pipe's one writer about to send n
// bytes: call it just before send. A write larger than the room left
// blocks part-way until readers drain the pipe, and FIONREAD below the
// capacity does not mean that the kernel has room (a pipe's buffers are
// pages, partly read ones included). So the writer is ready while the
// pipe is empty (every page free) or its whole write fits, or once every
// byte of it has entered the pipe (read by workers or buffered), a fact
// that persists until the writer records its next state. Otherwise only
// a reader can make room, and the readers are its releasers.
func (p *pipe) roomFor(n int) func() bool {
	w0 := p.written.Load()
	return func() bool {
		b := int64(p.buffered())
		if b < 0 {
			return true // closed: the write fails at once
		}
		return b == 0 || b+int64(n) <= int64(p.capacity()) || p.read.Load()+b >= w0+int64(n)
	}
}

// readReady reports whether a reader of p with frame progress (have,
// need) can move: bytes wait in the pipe, or it took bytes it has not yet
// counted, or it holds a whole frame or header it has yet to handle
// (frame.Holding). The counters are read in an order that can only err
// towards "ready".
func (p *pipe) readReady(have, need *atomic.Int64) bool {
	r := p.read.Load()
	b := int64(max(p.buffered(), 0)) // a closed pipe holds nothing
	w := p.written.Load()
	h, n := have.Load(), need.Load()
	return b > 0 || w-r-b > 0 || frame.Holding(h, n)
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

// close closes both ends, and returns once they are closed, whoever
// else is closing them: a second os.File.Close returns at once while the
// first may still be waiting for a goroutine to leave the descriptor, so
// a Terminate racing a Join's close would return with it open.
func (p *pipe) close() {
	p.closeOnce.Do(func() {
		p.r.Close()
		p.w.Close()
	})
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
