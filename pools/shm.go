package pools

import "github.com/poolhang/poolhang/pools/internal/shm"

// Lock indexes inside the region: the shared-queue pools' two locks.
const (
	lockTaskRead    = 0 // held while a worker waits for and reads a task frame
	lockResultWrite = 1 // held while a worker writes a result frame
)

var lockNames = [...]string{lockTaskRead: "task-queue read lock", lockResultWrite: "result-queue write lock"}

// numLocks is how many locks of the region's header are in use.
const numLocks = len(lockNames)

// slot is a worker's slot in the region; its state word holds a wstate
// (wStarting is 0, the state shm.Slot.Reset leaves).
type slot struct{ shm.Slot }

func slotOf(r *shm.Region, i int) slot { return slot{r.Slot(i)} }

// set records a transition (shm.Slot.Set).
func (s slot) set(st wstate, job int64) { s.Set(uint32(st), job) }

// state is the worker's last reported state.
func (s slot) state() wstate { return wstate(s.State().Load()) }

// waitingLock is the lock the worker has declared it waits for (its
// WaitLock word is the index plus one), read once: the worker clears the
// word when it gets the lock, so a second read could say none. ok is
// false for none, or a word out of range.
func (s slot) waitingLock() (i int, ok bool) {
	i = int(s.WaitLock().Load()) - 1
	return i, i >= 0 && i < numLocks
}

// Reset leaves state 0 in a slot: that must read as wStarting.
var _ [0]struct{} = [wStarting]struct{}{}
