package shm

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Lock returns lock i of the header, 0 <= i < MaxLocks.
func (r *Region) Lock(i int) Lock {
	return Lock{w: r.u32(offLocks + 4*i), waiters: r.u32(offWaiters + 4*i), r: r}
}

// A Lock is a process-shared mutual-exclusion lock with the semantics of
// a POSIX semaphore of value 1 (multiprocessing.Lock): its word holds the
// holder's pid, and nothing releases it when the holder dies. A lock the
// kernel drops on death (flock, robust futexes) would be the wrong model.
//
// waiters counts the processes between deciding to sleep on the word and
// waking, so that a release with nobody waiting costs no futex call (the
// fast path of a taker that never waits). A process killed while it waits
// leaves the count raised: releases then wake for nothing, as they used to.
type Lock struct {
	w       *atomic.Uint32
	waiters *atomic.Uint32
	r       *Region
}

// Acquire takes the lock for pid, waiting as long as it takes.
func (l Lock) Acquire(pid uint32) {
	for {
		if l.w.CompareAndSwap(0, pid) {
			l.r.Bump()
			return
		}
		l.sleep(0)
	}
}

// sleep waits on the word while it holds a holder's pid, at most d (for
// ever if d is 0), announced in waiters. It first yields the CPU once: on
// a machine with fewer cores than workers the holder is often a runnable
// process the scheduler preempted, and a waiter that sleeps at once makes
// every release pay a futex wake and a context switch (a lock convoy). The count goes up before the
// word is read and a release stores 0 before it reads the count, so
// either the release sees the waiter and wakes it, or the waiter sees the
// word changed and the kernel does not put it to sleep.
func (l Lock) sleep(d time.Duration) {
	if l.w.Load() != 0 {
		unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		if l.w.Load() == 0 {
			return
		}
	}
	l.waiters.Add(1)
	if v := l.w.Load(); v != 0 {
		if d <= 0 {
			futexWait(l.w, v, nil)
		} else {
			ts := unix.NsecToTimespec(int64(d))
			futexWait(l.w, v, &ts)
		}
	}
	l.waiters.Add(^uint32(0))
}

// AcquireParent takes the lock for the parent process, the way a parent
// thread calling SimpleQueue.put does, but gives up once stop reports
// true, so that Terminate can end a goroutine stuck behind a dead holder.
func (l Lock) AcquireParent(pid uint32, stop func() bool) bool {
	for !stop() {
		if l.w.CompareAndSwap(0, pid) {
			l.r.Bump()
			return true
		}
		l.sleep(50 * time.Millisecond)
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
		l.sleep(left)
	}
}

// Release frees the lock, whoever holds it.
func (l Lock) Release() {
	l.w.Store(0)
	l.r.Bump()
	l.wakeWaiters()
}

// wakeWaiters wakes every waiter, if any: waking one that is then killed
// before it retries would leave the others asleep on a free lock.
func (l Lock) wakeWaiters() {
	if l.waiters.Load() != 0 {
		futexWake(l.w)
	}
}

// ReleaseHeld frees the lock if pid holds it, and reports whether it did:
// what a `finally` releases for a process that is about to exit, with no
// risk of freeing a lock another process took meanwhile.
func (l Lock) ReleaseHeld(pid uint32) bool {
	if !l.w.CompareAndSwap(pid, 0) {
		return false
	}
	l.r.Bump()
	l.wakeWaiters()
	return true
}

// Wake wakes every process waiting for the lock, without freeing it (so
// that a waiter that must give up sees why).
func (l Lock) Wake() { futexWake(l.w) }

// Holder is the pid holding the lock, 0 if it is free.
func (l Lock) Holder() int { return int(l.w.Load()) }

func futexWait(w *atomic.Uint32, val uint32, ts *unix.Timespec) {
	// FUTEX_WAIT without FUTEX_PRIVATE_FLAG: the word is in a shared mapping.
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), 0 /* FUTEX_WAIT */, uintptr(val), uintptr(unsafe.Pointer(ts)), 0, 0)
}

func futexWake(w *atomic.Uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), 1 /* FUTEX_WAKE */, uintptr(1<<31-1), 0, 0, 0)
}
