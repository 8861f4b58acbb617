// Package shm is the memory a pool's parent and its workers share: a memfd
// mapped MAP_SHARED by every process. It holds a progress counter,
// process-shared locks, byte counters for the shared pipes, the workers'
// handshake, and one slot per worker in which the worker reports what it
// is doing.
//
// It knows nothing of pools: what a slot's state word means, what each
// lock guards and which counters a worker uses are the caller's. Every
// word is read and written atomically, by any process, at any time; a
// process that dies leaves its words as they were.
package shm

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Layout: a 192-byte header (progress counter, the lock words, the byte
// counters of the shared pipes, the handshake's secret, the workers' frame
// limit, the lifecycle options, a strategy's parameter, the locks' waiter
// counts), then MaxSlots slots of slotSize bytes.
const (
	offProgress = 0
	offLocks    = 8  // lock i at offLocks + 4*i
	offCounters = 64 // shared pipes: task written, task read, result written, result read
	offSecret   = 96 // the worker handshake's secret (SecretLen bytes)
	offMaxFrame = 112
	offMaxTasks = 120 // a worker's tasks before it retires (0: no limit)
	offInitFail = 124 // 1: the pool's initializer raises in every worker
	offParam    = 128 // one word a strategy hands its workers
	offWaiters  = 136 // waiters of lock i at offWaiters + 4*i
	headerSize  = 192
	slotSize    = 128
	regionSize  = headerSize + slotSize*MaxSlots
	slotUsed    = 128 // the slot's words (Slot's layout) end here
)

// A slot's words fit in it.
var _ [slotSize - slotUsed]struct{}

const (
	// MaxSlots is how many workers a region can hold at once.
	MaxSlots = 512
	// MaxLocks is how many lock words the header holds.
	MaxLocks = (offCounters - offLocks) / 4
	// SecretLen is the length of the handshake's secret, in bytes.
	SecretLen = 16
)

// The waiter counts fit in the header.
var _ [headerSize - offWaiters - 4*MaxLocks]struct{}

// A Region is the shared memory of one pool.
type Region struct {
	file *os.File
	mem  []byte
}

// New makes a region: a memfd (closed on exec) of the region's size,
// mapped shared and zeroed.
func New() (*Region, error) {
	fd, err := unix.MemfdCreate("poolhang", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("pools: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "poolhang-shm")
	if err := unix.Ftruncate(fd, regionSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("pools: ftruncate shared region: %w", err)
	}
	return Open(f)
}

// Open maps the region f holds (a worker's inherited descriptor); it
// closes f if it fails.
func Open(f *os.File) (*Region, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, regionSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pools: mmap shared region: %w", err)
	}
	r := &Region{file: f, mem: mem}
	runtime.AddCleanup(r, func(mem []byte) { unix.Munmap(mem) }, mem)
	return r, nil
}

// File is the region's descriptor, for a worker to inherit.
func (r *Region) File() *os.File { return r.file }

// Close closes the memfd. The mapping stays until the region is garbage:
// a caller still returning from Wait or Join on a terminated pool may
// touch it, and must not fault.
func (r *Region) Close() {
	r.file.Close()
}

func (r *Region) u32(off int) *atomic.Uint32 { return (*atomic.Uint32)(unsafe.Pointer(&r.mem[off])) }
func (r *Region) i64(off int) *atomic.Int64  { return (*atomic.Int64)(unsafe.Pointer(&r.mem[off])) }

// Progress counts every state transition of every party, parent or
// worker. A snapshot taken twice with the same count saw no transition in
// between.
func (r *Region) Progress() *atomic.Uint32 { return r.u32(offProgress) }

// Bump counts one transition.
func (r *Region) Bump() {
	r.Progress().Add(1)
}

// SharedCounters are the byte counters of the pipes every worker shares.
func (r *Region) SharedCounters() Counters { return countersAt(r, offCounters) }

// Handshake writes a fresh secret and the workers' frame limit into the
// header and returns the secret as workers get it (hex).
func (r *Region) Handshake(maxFrame int) (string, error) {
	b := r.mem[offSecret : offSecret+SecretLen]
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("pools: worker secret: %w", err)
	}
	r.i64(offMaxFrame).Store(int64(maxFrame))
	return hex.EncodeToString(b), nil
}

// MaxFrame is the frame limit the handshake wrote.
func (r *Region) MaxFrame() int64 { return r.i64(offMaxFrame).Load() }

// SetLifecycle writes what every worker of the pool does at its start
// and end: how many tasks it runs before it retires (0: no limit), and
// whether its initializer fails.
func (r *Region) SetLifecycle(maxTasks int, initFails bool) {
	r.u32(offMaxTasks).Store(uint32(maxTasks))
	var f uint32
	if initFails {
		f = 1
	}
	r.u32(offInitFail).Store(f)
}

// Lifecycle reads what SetLifecycle wrote.
func (r *Region) Lifecycle() (maxTasks int, initFails bool) {
	return int(r.u32(offMaxTasks).Load()), r.u32(offInitFail).Load() == 1
}

// Param is one word a strategy hands its workers (pebble's lock timeout).
func (r *Region) Param() *atomic.Int64 { return r.i64(offParam) }

// Proven reports whether descriptor fd is a region whose secret is
// secret (hex), without mapping it: a process that merely inherited the
// environment variable naming a worker is not one.
func Proven(fd int, secret string) bool {
	want, err := hex.DecodeString(secret)
	if err != nil || len(want) != SecretLen {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != regionSize {
		return false
	}
	got := make([]byte, SecretLen)
	if n, err := unix.Pread(fd, got, offSecret); err != nil || n != SecretLen {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Counters count the bytes written to and read from a task pipe and a
// result pipe. Each side counts after its syscall returns, and records
// its state before it, so a snapshot can tell bytes that a reader took
// but has not yet handled (written - read - buffered > 0) from bytes
// nobody will send.
type Counters struct {
	TaskW, TaskR, ResW, ResR *atomic.Int64
}

func countersAt(r *Region, off int) Counters {
	return Counters{r.i64(off), r.i64(off + 8), r.i64(off + 16), r.i64(off + 24)}
}
