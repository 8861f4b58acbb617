package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// A diagnosis is told two ways. The account (Outcome.Diagnosis) is what
// the seed's author found with gdb, lsof and ps: every stuck party and
// every worker by its place in the pool (w1, w2), for a person watching
// one run. The summary (Outcome.Summary) keeps only what every run of the
// scenario shows, naming workers by role ("the worker that took job 2"),
// for results that change only when a verdict's reasons do.

// struck names the workers the faults hit: by the job they took and the
// phase they ended in (a pool that breaks kills other workers, which may
// hold the same job elsewhere), or by the pid an idle fault struck.
type struck struct {
	jobs map[int]faults.Phase
	pids map[int]bool
}

func (k struck) hit(w pools.Party) bool {
	ph, ok := k.jobs[w.Job]
	return (ok && string(ph) == w.Phase) || k.pids[w.PID]
}

// workerName names a worker by its place in the pool.
func workerName(w pools.Party) string { return fmt.Sprintf("w%d", w.Slot) }

// partyName names a party for a sentence.
func partyName(p pools.Party) string {
	if p.Role == pools.RoleWorker {
		return workerName(p)
	}
	return "the " + p.Role.String()
}

// waitDetail says more of a wait, from its typed fields where they name a
// party.
func waitDetail(s pools.Snapshot, w *pools.Wait) string {
	if w == nil {
		return ""
	}
	if w.Kind == pools.WaitLock && w.Lock == pools.InheritedLock {
		return w.Detail
	}
	if w.Kind == pools.WaitLock && w.Holder != 0 {
		if h, ok := s.Worker(w.Holder); ok {
			return "held by " + workerName(h)
		}
		return "held by the parent"
	}
	return w.Detail
}

// lockHolder is the worker holding the lock w waits for, if any.
func lockHolder(s pools.Snapshot, w *pools.Wait) (pools.Party, bool) {
	if w == nil || w.Kind != pools.WaitLock || w.Holder == 0 {
		return pools.Party{}, false
	}
	return s.Worker(w.Holder)
}

// diagnoseHang tells a proven hang: why it cannot end, who is blocked on
// what, and which workers are zombies; then the same, summarized.
func diagnoseHang(s pools.Snapshot, pr Proof) (cs []Cause, account, summary string) {
	cs, lines := causes(s, pr)
	sum := append([]string(nil), lines...)
	stuck := map[string]bool{}
	for _, id := range pr.Stuck {
		stuck[id] = true
	}
	for _, p := range s.Parties {
		if !stuck[p.ID] {
			continue
		}
		line := fmt.Sprintf("%s is %s", partyName(p), p.State)
		if d := waitDetail(s, p.Wait); d != "" {
			line += " (" + d + ")"
		}
		lines = append(lines, line)
		// Which worker, handler or manager is blocked when the caller is
		// proven stuck is a race; the caller is not. Nor is which worker
		// holds the lock a caller waits for (terminate()): its slot is a
		// race, whether it is dead is not.
		if p.Role == pools.RoleCaller {
			line = fmt.Sprintf("%s is %s", partyName(p), p.State)
			if h, ok := lockHolder(s, p.Wait); ok {
				line += " (held by a " + map[bool]string{true: "dead", false: "live"}[h.Exit != nil] + " worker)"
			} else if d := waitDetail(s, p.Wait); d != "" {
				line += " (" + d + ")"
			}
			sum = append(sum, line)
		}
	}
	if z := zombies(s); len(z) > 0 {
		lines = append(lines, fmt.Sprintf("%s %s exited and %s", plural(len(z), "worker", "workers"), strings.Join(z, ", "), plural(len(z), "is a zombie", "are zombies")))
		sum = append(sum, fmt.Sprintf("%d %s exited and %s", len(z), plural(len(z), "worker", "workers"), plural(len(z), "is a zombie", "are zombies")))
	}
	return cs, "hang: " + strings.Join(lines, "; "), "hang: " + strings.Join(sum, "; ")
}

// diagnoseAnswer tells how the caller was answered, then the same,
// summarized: no error text (it may carry a pid), no job counts where
// they are a race, and only the workers the faults hit.
func diagnoseAnswer(o Outcome, s pools.Snapshot, k struck) (account, summary string) {
	ok, _, unres := o.Count()
	var b, sum strings.Builder
	fmt.Fprintf(&b, "%s: %d %s ok", o.Verdict, ok, plural(ok, "job", "jobs"))
	race := CountsRace(o.ErrorKinds(), o.Causes)
	if race {
		fmt.Fprintf(&sum, "%s", o.Verdict)
	} else {
		fmt.Fprintf(&sum, "%s: %d %s ok", o.Verdict, ok, plural(ok, "job", "jobs"))
	}
	byKind := map[string][]int{}
	first := map[string]string{}
	for _, j := range o.Jobs {
		if j.State == JobError {
			if _, seen := byKind[j.Kind]; !seen {
				first[j.Kind] = j.Error
			}
			byKind[j.Kind] = append(byKind[j.Kind], j.Job)
		}
	}
	for _, kind := range o.ErrorKinds() {
		jobs := byKind[kind]
		fmt.Fprintf(&b, "; %s %s failed with %s (%s)", plural(len(jobs), "job", "jobs"), joinInts(jobs), kind, first[kind])
		if race && kind == ErrKindBroken {
			fmt.Fprintf(&sum, "; the jobs still pending when the pool broke failed with %s", kind)
		} else {
			fmt.Fprintf(&sum, "; %s %s failed with %s", plural(len(jobs), "job", "jobs"), joinInts(jobs), kind)
		}
	}
	if unres > 0 {
		fmt.Fprintf(&b, "; %d unresolved", unres)
		fmt.Fprintf(&sum, "; %d unresolved", unres)
	}
	if cancelled, running := o.Undelivered(); cancelled+running > 0 && o.Scenario.imap() {
		// billiard's imap ended short (TaskHandler.body: set_length).
		fmt.Fprintf(&b, "; %d never yielded: the imap ended after the items before its input raised", cancelled+running)
		fmt.Fprintf(&sum, "; %d never yielded: the imap ended after the items before its input raised", cancelled+running)
	} else if cancelled+running > 0 {
		// Which of them were cancelled is the manager's race with the
		// caller; the summary keeps only what every run shows.
		fmt.Fprintf(&b, "; %d not delivered by the map, which raised first (%d cancelled, %d running or done)", cancelled+running, cancelled, running)
		if !race {
			fmt.Fprintf(&sum, "; %d not delivered by the map, which raised first", cancelled+running)
		}
	}
	for _, w := range s.Parties {
		if w.Role != pools.RoleWorker || w.Exit == nil || (w.Exit.Signal == 0 && w.Exit.Code == 0) {
			continue
		}
		fmt.Fprintf(&b, "; %s %s", workerName(w), w.Exit)
		if w.Job >= 0 {
			fmt.Fprintf(&b, " in %s", w.Phase)
		}
		switch {
		case !k.hit(w):
		case w.Job >= 0:
			fmt.Fprintf(&sum, "; the worker that took job %d ended, %s, in %s", w.Job, w.Exit, w.Phase)
		default:
			fmt.Fprintf(&sum, "; the idle worker the fault struck ended, %s", w.Exit)
		}
	}
	if z := zombies(s); len(z) > 0 {
		fmt.Fprintf(&b, "; %s %s %s", plural(len(z), "worker", "workers"), strings.Join(z, ", "), plural(len(z), "is a zombie", "are zombies"))
	}
	return b.String(), sum.String()
}

// zombies names the workers that ended and were never reaped.
func zombies(s pools.Snapshot) []string {
	var z []string
	for _, p := range s.Parties {
		if p.Role == pools.RoleWorker && p.Zombie {
			z = append(z, workerName(p))
		}
	}
	return z
}

// CountsRace reports whether how many jobs end ok is a race, which one
// event decides for every job still out: a broken pool fails every job
// pending when its manager notices the death (process.py:
// _ExecutorManagerThread.terminate_broken); a result reader that dies, or
// waits for the rest of a torn frame, reads no result behind that one,
// and which results came first is the workers' race; a lock that died
// with its holder blocks whichever worker needs it next, and whether a
// result of another worker was still to be written then is their race
// (pebble's workers write results under the writer mutex that a task
// being unpickled holds).
func CountsRace(errors []string, causes []Cause) bool {
	return slices.Contains(errors, ErrKindBroken) || slices.Contains(causes, CauseDeadReader) || slices.Contains(causes, CauseTornFrame) ||
		slices.Contains(causes, CauseDeadLockHolder)
}
