package shm

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A Slot is one worker's self-reported state. Only the worker writes it
// (after the parent initialises it), the parent reads it; the parent
// posts requests in its mailbox.
//
// Slot layout (offsets within the slot):
//
//	0  seq     uint32 transitions of this worker
//	4  pid     uint32
//	8  state   uint32 the caller's state code; 0 after Reset
//	12 lock    uint32 lock index+1 the worker waits for, 0 none
//	16 job     int64  job id the worker holds, -1 none
//	24 point   uint32 the point the worker stopped at, 0 none
//	28 mail    uint32 a request from the parent, 0 none
//	32 mailarg int64
//	40 counters: task written, task read, result written, result read
//	           (the worker's private pipes, if it has them)
//	72 have    int64  bytes of the task frame being read
//	80 need    int64  bytes that frame needs, 0 until its header is in
//	88 start   uint32 an action to run before the first task, 0 none
//	96 startarg int64
//	104 takenjob  int64 the job of the last task frame read whole, -1 none
//	112 takenat   int64 when it was read whole (Now), 0 none
//	120 pointleft int64 when the worker last left a point's wait (Now), 0 never
type Slot struct {
	r    *Region
	base int
}

// Slot returns slot i, 0 <= i < MaxSlots.
func (r *Region) Slot(i int) Slot { return Slot{r: r, base: headerSize + slotSize*i} }

func (s Slot) seq() *atomic.Uint32 { return s.r.u32(s.base) }

// PID is the worker's pid.
func (s Slot) PID() *atomic.Uint32 { return s.r.u32(s.base + 4) }

// State is the worker's state code.
func (s Slot) State() *atomic.Uint32 { return s.r.u32(s.base + 8) }

// WaitLock is the index+1 of the lock the worker waits for, 0 if none.
func (s Slot) WaitLock() *atomic.Uint32 { return s.r.u32(s.base + 12) }

// Job is the job the worker holds, -1 if none.
func (s Slot) Job() *atomic.Int64 { return s.r.i64(s.base + 16) }

// Point is where the worker stopped, 0 if it runs.
func (s Slot) Point() *atomic.Uint32 { return s.r.u32(s.base + 24) }

func (s Slot) mail() *atomic.Uint32   { return s.r.u32(s.base + 28) }
func (s Slot) mailArg() *atomic.Int64 { return s.r.i64(s.base + 32) }

// Counters are the byte counters of the worker's private pipes.
func (s Slot) Counters() Counters { return countersAt(s.r, s.base+40) }

// Have and Need are the bytes of the task frame the worker is reading,
// and the bytes it needs (0 until its header is in).
func (s Slot) Have() *atomic.Int64 { return s.r.i64(s.base + 72) }
func (s Slot) Need() *atomic.Int64 { return s.r.i64(s.base + 80) }

// Start is the action a new worker runs before its first task, 0 none,
// and StartArg its argument; the parent sets them before the start.
func (s Slot) Start() *atomic.Uint32   { return s.r.u32(s.base + 88) }
func (s Slot) StartArg() *atomic.Int64 { return s.r.i64(s.base + 96) }

// TakenJob and TakenAt are the job of the last task frame the worker
// read whole and when (Now): set by Take, if the worker's strategy keeps
// them; -1 and 0 until then.
func (s Slot) TakenJob() *atomic.Int64 { return s.r.i64(s.base + 104) }
func (s Slot) TakenAt() *atomic.Int64  { return s.r.i64(s.base + 112) }

// PointLeftAt is when (Now) the worker last left a point's wait, if its
// strategy keeps it; 0 until then.
func (s Slot) PointLeftAt() *atomic.Int64 { return s.r.i64(s.base + 120) }

// Take records that the worker read job's task frame whole at at. The
// time is stored first: whoever reads TakenJob and then TakenAt gets the
// take's time or a later one, never an earlier job's.
func (s Slot) Take(job, at int64) {
	s.TakenAt().Store(at)
	s.TakenJob().Store(job)
}

// Now is CLOCK_MONOTONIC in nanoseconds: the clock every process sharing
// a region reads alike (a Go time's monotonic reading is its process's
// own).
func Now() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// A Clock reads Now at the price of a Go time (the vDSO, where Now's
// clock_gettime is a system call): it pairs one reading of Now with a Go
// time and adds the time since. Go's monotonic clock on Linux is
// CLOCK_MONOTONIC, so the two run alike; the Go time is read first, so a
// Clock's readings are never earlier than Now's.
type Clock struct {
	t    time.Time
	mono int64
}

// NewClock pairs a reading of Now with the Go time.
func NewClock() Clock {
	t := time.Now()
	return Clock{t: t, mono: Now()}
}

// Now is Now, read through c.
func (c Clock) Now() int64 { return c.mono + int64(time.Since(c.t)) }

// Reset readies the slot for a new worker: state 0, no lock, no job, no
// stop, no mail, counters at 0, no take.
func (s Slot) Reset(pid int) {
	s.PID().Store(uint32(pid))
	s.State().Store(0)
	s.WaitLock().Store(0)
	s.Job().Store(-1)
	s.Point().Store(0)
	s.mail().Store(0)
	s.Start().Store(0)
	s.StartArg().Store(0)
	s.TakenJob().Store(-1)
	c := s.Counters()
	for _, x := range []*atomic.Int64{c.TaskW, c.TaskR, c.ResW, c.ResR, s.Have(), s.Need(), s.TakenAt(), s.PointLeftAt()} {
		x.Store(0)
	}
	s.seq().Add(1)
	s.r.Bump()
}

// Set records a transition; the worker calls it before it blocks, so a
// reader never sees a worker "running" that is in fact blocked.
func (s Slot) Set(state uint32, job int64) {
	s.State().Store(state)
	s.Job().Store(job)
	s.seq().Add(1)
	s.r.Bump()
}

// SetPoint records that the worker stopped at point p holding job.
func (s Slot) SetPoint(p uint32, job int64) {
	s.Job().Store(job)
	s.Point().Store(p)
	s.seq().Add(1)
	s.r.Bump()
}

// SetWaitLock records that the worker waits for lock i.
func (s Slot) SetWaitLock(i int) {
	s.WaitLock().Store(uint32(i + 1))
	s.seq().Add(1)
	s.r.Bump()
}

// ClearWaitLock records that the worker waits for no lock.
func (s Slot) ClearWaitLock() {
	s.WaitLock().Store(0)
	s.seq().Add(1)
	s.r.Bump()
}

// Post puts a request (non-zero) and its argument in the mailbox and
// wakes the worker's reader of it.
func (s Slot) Post(req uint32, arg int64) {
	s.mailArg().Store(arg)
	s.mail().Store(req)
	futexWake(s.mail())
}

// TakeMail waits for a request in the mailbox, empties it, and returns
// the request and its argument.
func (s Slot) TakeMail() (uint32, int64) {
	m := s.mail()
	for {
		v := m.Load()
		if v == 0 {
			futexWait(m, 0, nil)
			continue
		}
		m.Store(0)
		return v, s.mailArg().Load()
	}
}
