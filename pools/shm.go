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

// Reset leaves state 0 in a slot: that must read as wStarting.
var _ [0]struct{} = [wStarting]struct{}{}
