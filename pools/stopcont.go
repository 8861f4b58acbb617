package pools

import (
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// pointContinues marks, beside pointStops in a slot's point, a stop that
// someone outside ends with SIGCONT (the runner, at a named point): the
// worker then clears the stop and its code goes on from the point.
const pointContinues Point = 0x10

// StopUntilContinued records in the worker's shared slot that it stops at
// the point, sends itself a real SIGSTOP (kill(getpid(), SIGSTOP)), and
// returns once a SIGCONT has continued it, with the stop cleared, so that
// the code at the point goes on: a job-control stop followed by its
// continue. A SIGKILL ends it while stopped as any other. In the parent it
// returns at once.
func (s *Strike) StopUntilContinued() {
	if s.await == nil || stopUntilContinued == nil {
		return
	}
	stopUntilContinued(s.At, s.Job)
}

// stopUntilContinued is set by the worker runtime (worker.stopCont).
var stopUntilContinued func(p Point, job int)

// stopCont is StopUntilContinued in a worker. The kill may return before
// the stop lands: SIGSTOP to the process goes to its main thread, and
// this goroutine's thread can run on until the group stop reaches it. So
// it does not go on when kill returns but when SIGCONT arrives, which is
// only after the stop (the runner sends SIGCONT to a worker /proc shows in
// state T), and which signal.Notify keeps for it whenever it arrives.
// Stops are taken one at a time: an idle stop runs on the mailbox
// goroutine, and once continued the main loop can reach a job's stop
// before the mailbox has cleared the slot; without the lock that clear
// erased the new stop (the slot has one point), and the SIGCONT meant
// for the first could reach the second's channel.
func (w *worker) stopCont(p Point, job int) {
	stopMu.Lock()
	defer stopMu.Unlock()
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, unix.SIGCONT)
	defer signal.Stop(cont)
	w.slot.SetPoint(uint32(p|pointStops|pointContinues), int64(job))
	unix.Kill(os.Getpid(), unix.SIGSTOP)
	<-cont
	w.slot.SetPoint(0, int64(job))
}

// stopMu serialises a worker's continued stops (stopCont) and every other
// point it records (setPoint): the slot has one point, and a continued
// idle stop's clear, on the mailbox goroutine, must not erase a point the
// main loop reached after the SIGCONT (a Ctrl-C's, a kill's).
var stopMu sync.Mutex

// setPoint records the point p (0: none) and job in the worker's slot,
// after any continued stop has cleared its own. A wait that ends (p 0)
// is stamped first, for a strategy that keeps the time: whoever sees the
// point cleared sees the time too. A continued stop (stopCont) is not: a
// stopped worker's deadline runs through the stop.
func (w *worker) setPoint(p Point, job int) {
	stopMu.Lock()
	defer stopMu.Unlock()
	if p == 0 && w.mode.StampTakes {
		w.slot.PointLeftAt().Store(w.clock.Now())
	}
	w.slot.SetPoint(uint32(p), int64(job))
}
