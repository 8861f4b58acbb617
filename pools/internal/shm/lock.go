package shm

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Lock returns lock i of the header, 0 <= i < MaxLocks.
func (r *Region) Lock(i int) Lock { return Lock{w: r.u32(offLocks + 4*i), r: r} }

// A Lock is a process-shared mutual-exclusion lock with the semantics of
// a POSIX semaphore of value 1 (multiprocessing.Lock): its word holds the
// holder's pid, and nothing releases it when the holder dies. A lock the
// kernel drops on death (flock, robust futexes) would be the wrong model.
type Lock struct {
	w *atomic.Uint32
	r *Region
}

// Acquire takes the lock for pid, waiting as long as it takes.
func (l Lock) Acquire(pid uint32) {
	for {
		if l.w.CompareAndSwap(0, pid) {
			l.r.Bump()
			return
		}
		if v := l.w.Load(); v != 0 {
			futexWait(l.w, v)
		}
	}
}

// AcquireParent takes the lock for the parent process, the way a parent
// thread calling SimpleQueue.put does, but gives up once stop reports
// true, so that Terminate can end a goroutine stuck behind a dead holder.
func (l Lock) AcquireParent(pid uint32, stop func() bool) bool {
	ts := unix.NsecToTimespec(int64(50 * 1000 * 1000))
	for !stop() {
		if l.w.CompareAndSwap(0, pid) {
			l.r.Bump()
			return true
		}
		if v := l.w.Load(); v != 0 {
			unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(l.w)), 0, uintptr(v), uintptr(unsafe.Pointer(&ts)), 0, 0)
		}
	}
	return false
}

// AcquireTimeout takes the lock for pid, waiting at most d (forever if d
// is 0), and reports whether it took it: sem_timedwait, as a
// multiprocessing lock's acquire(timeout=...) does.
func (l Lock) AcquireTimeout(pid uint32, d time.Duration) bool {
	if d <= 0 {
		l.Acquire(pid)
		return true
	}
	end := time.Now().Add(d)
	for {
		if l.w.CompareAndSwap(0, pid) {
			l.r.Bump()
			return true
		}
		left := time.Until(end)
		if left <= 0 {
			return false
		}
		if v := l.w.Load(); v != 0 {
			ts := unix.NsecToTimespec(int64(left))
			unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(l.w)), 0, uintptr(v), uintptr(unsafe.Pointer(&ts)), 0, 0)
		}
	}
}

// Release frees the lock, whoever holds it.
func (l Lock) Release() {
	l.w.Store(0)
	l.r.Bump()
	// Wake every waiter: waking one that is then killed before it retries
	// would leave the others asleep on a free lock.
	l.Wake()
}

// ReleaseHeld frees the lock if pid holds it, and reports whether it did:
// what a `finally` releases for a process that is about to exit, with no
// risk of freeing a lock another process took meanwhile.
func (l Lock) ReleaseHeld(pid uint32) bool {
	if !l.w.CompareAndSwap(pid, 0) {
		return false
	}
	l.r.Bump()
	l.Wake()
	return true
}

// Wake wakes every process waiting for the lock, without freeing it (so
// that a waiter that must give up sees why).
func (l Lock) Wake() { futexWake(l.w) }

// Holder is the pid holding the lock, 0 if it is free.
func (l Lock) Holder() int { return int(l.w.Load()) }

func futexWait(w *atomic.Uint32, val uint32) {
	// FUTEX_WAIT without FUTEX_PRIVATE_FLAG: the word is in a shared mapping.
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), 0 /* FUTEX_WAIT */, uintptr(val), 0, 0, 0)
}

func futexWake(w *atomic.Uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), 1 /* FUTEX_WAKE */, uintptr(1<<31-1), 0, 0, 0)
}
