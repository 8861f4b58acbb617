package scenarios

import (
	"fmt"
	"syscall"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
)

// A sigstop-cont fault (faults/sigstopcont.go) stops its worker with a real
// SIGSTOP; the runner continues it with a real SIGCONT at a named point:
// when the caller is proven stuck, counting the stopped worker as unable
// to move, on two consistent snapshots with no progress between them. That
// is the state in which a sigstop run is declared hung, so the continue
// comes once the pool has done all it would do without the worker. A
// deadline (tracked) is a releaser of the stopped worker's wait, so with
// one the caller is never proven stuck and the deadline's SIGKILL comes
// first.

// continued records, by fault index, the worker each sigstop-cont fault
// stopped and the runner continued.
type continued map[int]int

// continues reports whether k is stopped and continued later.
func continues(k faults.Kind) bool { return k.Effect == faults.StopsThenContinues }

// continueStopped is the watcher's turn on a proof that the caller is
// stuck, before any verdict: it reports true while a hang cannot yet be
// declared, because it has just sent a SIGCONT, or because a worker it
// continued is running but has not yet left its stop (its slot still
// names the point). A continued worker in state T again has stopped
// anew, at a second fault of the same job and phase.
func (r *run) continueStopped(s pools.Snapshot) bool {
	for i, pid := range r.cont {
		if w, ok := s.Worker(pid); ok && w.Exit == nil && w.Stop == r.contPoint(i) && !isStopped(w) {
			return true
		}
	}
	for i, f := range r.sc.Faults {
		if _, sent := r.cont[i]; sent {
			continue
		}
		k, err := faults.Lookup(f.Kind)
		if err != nil || !continues(k) {
			continue
		}
		w, ok := r.stoppedBy(s, i, f)
		if !ok {
			continue
		}
		if err := r.p.Signal(w.PID, syscall.SIGCONT); err != nil {
			r.notes = append(r.notes, fmt.Sprintf("fault %s: SIGCONT failed: %v", f, err))
			continue
		}
		if r.cont == nil {
			r.cont = continued{}
		}
		r.cont[i] = w.PID
		r.notes = append(r.notes, fmt.Sprintf("%s was stopped by SIGSTOP at %s (%s) and, once the caller was proven stuck on it alone, continued with SIGCONT",
			stoppedWho(f), f.Phase, w.Wait.Detail))
		return true
	}
	return false
}

// contPoint is the point fault i stops its worker at.
func (r *run) contPoint(i int) pools.Point {
	f := r.sc.Faults[i]
	if f.Job < 0 {
		return pools.PointIdle
	}
	k, _ := faults.Lookup(f.Kind)
	return k.Trigger(f.Phase).At
}

// stoppedBy finds the live worker fault i stopped, in state T: the one
// holding its job at its point, or for an idle fault the worker it struck.
func (r *run) stoppedBy(s pools.Snapshot, i int, f Fault) (pools.Party, bool) {
	at := r.contPoint(i)
	for _, w := range s.Parties {
		if w.Role != pools.RoleWorker || !isStopped(w) || w.Stop != at {
			continue
		}
		if (f.Job >= 0 && w.Job == f.Job) || (f.Job < 0 && r.idle[w.PID]) {
			return w, true
		}
	}
	return pools.Party{}, false
}

// stoppedWho names the worker a sigstop-cont fault stops, by role.
func stoppedWho(f Fault) string {
	if f.Job < 0 {
		return "the idle worker holding the task queue's read lock"
	}
	return fmt.Sprintf("the worker that took job %d", f.Job)
}

// contNotes says, for each sigstop-cont fault the runner never continued,
// why: the caller was never proven stuck while its worker was stopped (a
// deadline killed it first, or the caller was answered without it).
func (r *run) contNotes(final pools.Snapshot, v Verdict) []string {
	var out []string
	for i, f := range r.sc.Faults {
		k, err := faults.Lookup(f.Kind)
		if _, sent := r.cont[i]; sent || err != nil || !continues(k) {
			continue
		}
		what := "no SIGCONT was sent: the caller was never proven stuck while it was stopped"
		if _, still := r.stoppedBy(final, i, f); still {
			what = "it is still stopped (state T), and no SIGCONT was sent: the caller was never proven stuck on it alone"
			if v == Completed || v == Raised {
				what = "it is still stopped (state T): the caller was answered without it, and no SIGCONT was sent"
			}
		}
		out = append(out, fmt.Sprintf("fault %s: %s", f, what))
	}
	return out
}

// stopContEnds refuses sigstop-cont with the ending waits, as sigstop is
// refused: terminate() and shutdown() end the caller's bounded get at the
// very point where the runner would continue the stopped worker, so which
// comes first, the SIGCONT or the SIGTERM that a stopped process takes
// only once continued, is not one named point.
func stopContEnds(sc Scenario, f Fault, k faults.Kind) error {
	if !continues(k) || !sc.Wait.Ends() {
		return nil
	}
	return fmt.Errorf("fault=%s with wait=%s: not modelled: the caller's bounded get gives up, and ends the pool, at the point where the runner would continue the stopped worker, "+
		"so whether the SIGCONT or the SIGTERM (which a stopped worker takes only once continued) comes first is not a named point", f, sc.Wait)
}

// continuedLines tells, for a real cell, what became of each worker a
// sigstop-cont fault stopped: continued by the driver, from state T, or
// ended while stopped. With pids it adds how long nothing had moved.
func continuedLines(o realpools.Outcome, role map[int]string, pids bool) []string {
	var out []string
	for _, s := range o.Struck {
		if s.Kind != "sigstop-cont" || s.Continued == nil {
			continue
		}
		who := role[s.PID]
		if who == "" {
			who = fmt.Sprintf("the worker struck by %s at %s of job %d", s.Kind, s.Phase, s.Job)
		}
		if !*s.Continued {
			out = append(out, who+" was stopped by SIGSTOP and ended while stopped: no SIGCONT was sent")
			continue
		}
		line := fmt.Sprintf("%s was stopped by SIGSTOP (state %s) and continued with SIGCONT once every other worker was blocked and nothing had moved", who, s.StateBefore)
		if pids {
			line += fmt.Sprintf(" for %.0f ms", s.QuietMS)
		}
		out = append(out, line)
	}
	return out
}
