package pools

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The region shared between a pool's parent and its workers, a memfd mapped
// MAP_SHARED by every process. It holds the process-shared locks and one
// state slot per live worker.
//
// Layout: a 128-byte header (progress counter, the lock words, the byte
// counters of the shared pipes, the handshake's secret, the workers' frame
// limit), then slots of slotSize bytes.
const (
	offProgress = 0
	offLocks    = 8  // lock i at offLocks + 4*i
	offCounters = 64 // shared pipes: task written, task read, result written, result read
	offSecret   = 96 // the worker handshake's secret (secretLen bytes)
	offMaxFrame = 112
	headerSize  = 128
	slotSize    = 128
	maxSlots    = 512
	regionSize  = headerSize + slotSize*maxSlots
)

// Lock indexes inside the region.
const (
	lockTaskRead    = 0 // held while a worker waits for and reads a task frame
	lockResultWrite = 1 // held while a worker writes a result frame
)

var lockNames = [...]string{lockTaskRead: "task-queue read lock", lockResultWrite: "result-queue write lock"}

// numLocks is how many locks the region's header holds in use.
const numLocks = len(lockNames)

type region struct {
	file *os.File
	mem  []byte
}

func newRegion() (*region, error) {
	fd, err := unix.MemfdCreate("poolhang", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("pools: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "poolhang-shm")
	if err := unix.Ftruncate(fd, regionSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("pools: ftruncate shared region: %w", err)
	}
	return mapRegion(f)
}

func mapRegion(f *os.File) (*region, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, regionSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pools: mmap shared region: %w", err)
	}
	r := &region{file: f, mem: mem}
	runtime.AddCleanup(r, func(mem []byte) { unix.Munmap(mem) }, mem)
	return r, nil
}

// close closes the memfd. The mapping stays until the region is garbage:
// a caller still returning from Wait or Join on a terminated pool may
// touch it, and must not fault.
func (r *region) close() {
	r.file.Close()
}

func (r *region) u32(off int) *atomic.Uint32 { return (*atomic.Uint32)(unsafe.Pointer(&r.mem[off])) }
func (r *region) i64(off int) *atomic.Int64  { return (*atomic.Int64)(unsafe.Pointer(&r.mem[off])) }

// progress counts every state transition of every party, parent or worker.
// A snapshot taken twice with the same count saw no transition in between.
func (r *region) progress() *atomic.Uint32 { return r.u32(offProgress) }

func (r *region) bump() {
	r.progress().Add(1)
}

func (r *region) lock(i int) shmLock { return shmLock{w: r.u32(offLocks + 4*i), r: r} }

// shmLock is a process-shared mutual-exclusion lock with the semantics of a
// POSIX semaphore of value 1 (multiprocessing.Lock): its word holds the
// holder's pid, and nothing releases it when the holder dies. A lock the
// kernel drops on death (flock, robust futexes) would be the wrong model.
type shmLock struct {
	w *atomic.Uint32
	r *region
}

func (l shmLock) acquire(pid uint32) {
	for {
		if l.w.CompareAndSwap(0, pid) {
			l.r.bump()
			return
		}
		if v := l.w.Load(); v != 0 {
			futexWait(l.w, v)
		}
	}
}

func (l shmLock) release() {
	l.w.Store(0)
	l.r.bump()
	// Wake every waiter: waking one that is then killed before it retries
	// would leave the others asleep on a free lock.
	futexWake(l.w)
}

func (l shmLock) holder() int { return int(l.w.Load()) }

func futexWait(w *atomic.Uint32, val uint32) {
	// FUTEX_WAIT without FUTEX_PRIVATE_FLAG: the word is in a shared mapping.
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), 0 /* FUTEX_WAIT */, uintptr(val), 0, 0, 0)
}

func futexWake(w *atomic.Uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), 1 /* FUTEX_WAKE */, uintptr(1<<31-1), 0, 0, 0)
}

// A slot is one worker's self-reported state. Only the worker writes it
// (after the parent initialises it), the parent reads it.
//
// Slot layout (offsets within the slot):
//
//	0  seq     uint32 transitions of this worker
//	4  pid     uint32
//	8  state   uint32 a wstate
//	12 lock    uint32 lock index+1 the worker waits for, 0 none
//	16 job     int64  job id the worker holds, -1 none
//	24 point   uint32 Point index+1 the worker stopped at, 0 none
//	28 mail    uint32 a request from the parent, see interrupt
//	32 mailarg int64
//	40 counters: task written, task read, result written, result read
//	           (the worker's private pipes, for Tracked)
//	72 have    int64  bytes of the task frame being read
//	80 need    int64  bytes that frame needs, 0 until its header is in
type slot struct {
	r    *region
	base int
}

func (r *region) slot(i int) slot { return slot{r: r, base: headerSize + slotSize*i} }

func (s slot) seq() *atomic.Uint32      { return s.r.u32(s.base) }
func (s slot) pid() *atomic.Uint32      { return s.r.u32(s.base + 4) }
func (s slot) state() *atomic.Uint32    { return s.r.u32(s.base + 8) }
func (s slot) waitLock() *atomic.Uint32 { return s.r.u32(s.base + 12) }
func (s slot) job() *atomic.Int64       { return s.r.i64(s.base + 16) }
func (s slot) point() *atomic.Uint32    { return s.r.u32(s.base + 24) }
func (s slot) mail() *atomic.Uint32     { return s.r.u32(s.base + 28) }
func (s slot) mailArg() *atomic.Int64   { return s.r.i64(s.base + 32) }

func (s slot) counters() counters  { return countersAt(s.r, s.base+40) }
func (s slot) have() *atomic.Int64 { return s.r.i64(s.base + 72) }
func (s slot) need() *atomic.Int64 { return s.r.i64(s.base + 80) }

// counters count the bytes written to and read from a pipe. Each side
// counts after its syscall returns, and records its state before it, so a
// snapshot can tell bytes that a reader took but has not yet handled
// (written - read - buffered > 0) from bytes nobody will send.
type counters struct {
	taskW, taskR, resW, resR *atomic.Int64
}

func countersAt(r *region, off int) counters {
	return counters{r.i64(off), r.i64(off + 8), r.i64(off + 16), r.i64(off + 24)}
}

func (r *region) sharedCounters() counters { return countersAt(r, offCounters) }

func (s slot) reset(pid int) {
	s.pid().Store(uint32(pid))
	s.state().Store(uint32(wStarting))
	s.waitLock().Store(0)
	s.job().Store(-1)
	s.point().Store(0)
	s.mail().Store(0)
	c := s.counters()
	for _, x := range []*atomic.Int64{c.taskW, c.taskR, c.resW, c.resR, s.have(), s.need()} {
		x.Store(0)
	}
	s.seq().Add(1)
	s.r.bump()
}

// set records a transition; the worker calls it before it blocks, so a
// reader never sees a worker "running" that is in fact blocked.
func (s slot) set(st wstate, job int64) {
	s.state().Store(uint32(st))
	s.job().Store(job)
	s.seq().Add(1)
	s.r.bump()
}

func (s slot) setWaitLock(lock int) {
	s.waitLock().Store(uint32(lock + 1))
	s.seq().Add(1)
	s.r.bump()
}

func (s slot) clearWaitLock() {
	s.waitLock().Store(0)
	s.seq().Add(1)
	s.r.bump()
}

// acquireParent takes the lock for the parent process, the way a parent
// thread calling SimpleQueue.put does, but gives up once stop reports true,
// so that Terminate can end a goroutine stuck behind a dead holder.
func (l shmLock) acquireParent(pid uint32, stop func() bool) bool {
	ts := unix.NsecToTimespec(int64(50 * 1000 * 1000))
	for !stop() {
		if l.w.CompareAndSwap(0, pid) {
			l.r.bump()
			return true
		}
		if v := l.w.Load(); v != 0 {
			unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(l.w)), 0, uintptr(v), uintptr(unsafe.Pointer(&ts)), 0, 0)
		}
	}
	return false
}
