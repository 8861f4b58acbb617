package scenarios

import (
	"fmt"
	"slices"
	"sort"

	"github.com/poolhang/poolhang/pools"
)

// A Proof is the result of checking a snapshot for a hang.
type Proof struct {
	// Hang: the caller waits, and it and everything it transitively
	// waits for is blocked on something only a dead or blocked party
	// could release, with no bytes in flight that anyone will read.
	Hang bool
	// Stuck lists the parties proven blocked for good.
	Stuck []string
}

// prove computes the largest set of parties that can never move again:
// start from every blocked party, then repeatedly free any party whose
// wait is ready or has a releaser outside the set that is alive. What is
// left is stuck for good, because each member waits only on members or on
// the dead. The snapshot must be consistent.
func prove(s pools.Snapshot) Proof { return proveExcept(s, nil) }

// proveExcept is prove with the parties in futile counted as unable to
// release anyone, whatever they do: parties whose every possible action
// is proven, from recorded state, to lead nowhere (livelock.go).
func proveExcept(s pools.Snapshot, futile map[string]bool) Proof {
	byID := map[string]pools.Party{}
	stuck := map[string]bool{}
	for _, p := range s.Parties {
		byID[p.ID] = p
		if p.Exit == nil && !p.Done && p.Wait != nil && !p.Wait.Ready && !futile[p.ID] {
			stuck[p.ID] = true
		}
	}
	canAct := func(id string) bool {
		if id == pools.Outside || id == pools.Clock {
			return true
		}
		if futile[id] {
			return false
		}
		p, ok := byID[id]
		if !ok {
			// A releaser we cannot see may act: assume it will.
			return true
		}
		return p.Exit == nil && !p.Done && !stuck[id]
	}
	for changed := true; changed; {
		changed = false
		for id := range stuck {
			for _, r := range byID[id].Wait.Releasers {
				if canAct(r) {
					delete(stuck, id)
					changed = true
					break
				}
			}
		}
	}
	var out Proof
	for id := range stuck {
		out.Stuck = append(out.Stuck, id)
	}
	sort.Strings(out.Stuck)
	// The caller is always the first party of a snapshot.
	if len(s.Parties) > 0 && s.Parties[0].Role == pools.RoleCaller {
		out.Hang = stuck[s.Parties[0].ID]
	}
	return out
}

// quiescent reports whether no party of s can move by itself: each has
// ended, or waits on something that is not ready. A proof needs only the
// caller stuck, so a party that can still move (a result handler with
// bytes of a torn frame still to read, a worker on its way to a lock)
// may not have moved yet when it holds, the later the more loaded the
// machine. A verdict waits for it, so that the final state the diagnosis
// and the picture show is every party's last, whatever the load.
func quiescent(s pools.Snapshot) bool {
	for _, p := range s.Parties {
		if p.Exit != nil || p.Done || (p.Role == pools.RoleCaller && p.Wait == nil) {
			continue // ended, or a caller not yet calling (idle faults strike first)
		}
		if !blocked(p) {
			return false
		}
	}
	return true
}

// blocked reports whether p waits on something that is not ready.
func blocked(p pools.Party) bool { return p.Wait != nil && !p.Wait.Ready }

// A Cause is a named reason for a hang.
type Cause string

const (
	CauseJobLost        Cause = "job-held-by-dead-worker"
	CauseDeadReader     Cause = "dead-result-reader"
	CauseDeadTaskWriter Cause = "dead-task-handler"
	CauseDeadLockHolder Cause = "lock-died-with-holder"
	CauseTornFrame      Cause = "torn-frame"
	CauseStuckTask      Cause = "task-never-returns"
	CauseJobDropped     Cause = "job-dropped-by-pool"
	CauseStoppedWorker  Cause = "worker-stopped"
	CauseInheritedLock  Cause = "lock-inherited-held"
)

// causes names why a proven hang cannot end, with a sentence each. The
// sentences name workers by role ("the worker that took job 2"), never by
// pid or slot, since which worker took a job is a race.
func causes(s pools.Snapshot, p Proof) ([]Cause, []string) {
	var cs []Cause
	var lines []string
	add := func(c Cause, line string) {
		if !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
		lines = append(lines, line)
	}
	pending := map[int]bool{}
	for _, j := range s.Pending {
		pending[j] = true
	}
	for _, w := range s.Parties {
		switch {
		case w.Role != pools.RoleWorker:
		case w.Exit != nil && w.Job >= 0 && pending[w.Job]:
			add(CauseJobLost, fmt.Sprintf("job %d was taken by a worker that then ended, %s, in %s", w.Job, w.Exit, w.Phase))
		case w.Exit == nil && w.Wait != nil && w.Wait.Kind == pools.WaitNeverReturns:
			add(CauseStuckTask, fmt.Sprintf("job %d never returns in the worker that took it", w.Job))
		case w.Exit == nil && w.Wait != nil && w.Wait.Kind == pools.WaitStopped:
			add(CauseStoppedWorker, stoppedLine(w))
		case w.Exit == nil && w.Wait != nil && w.Wait.Lock == pools.InheritedLock:
			add(CauseInheritedLock, "a worker is blocked at its start on a lock it inherited held: its holder is a thread of the parent, which does not exist in the worker")
		}
	}
	for _, d := range s.Dropped {
		add(CauseJobDropped, fmt.Sprintf("job %d %s", d.Job, d.How))
	}
	for _, l := range s.Locks {
		if d, ok := s.Worker(l.Holder); ok && d.Exit != nil {
			add(CauseDeadLockHolder, fmt.Sprintf("the %s is held by a worker that is dead (%s): nothing releases it", l.Name, d.Exit))
		}
	}
	for _, g := range s.Parties {
		if !g.Died {
			continue
		}
		c := CauseDeadReader
		if g.Role.WritesTasks() {
			c = CauseDeadTaskWriter
		}
		add(c, fmt.Sprintf("the %s %s", g.Role, g.State))
	}
	stuck := map[string]bool{}
	for _, id := range p.Stuck {
		stuck[id] = true
	}
	for _, g := range s.Parties {
		if stuck[g.ID] && g.Wait != nil && g.Wait.Torn {
			add(CauseTornFrame, fmt.Sprintf("the %s holds part of a frame (%s) whose writer is gone", g.Role, g.Wait.Detail))
		}
	}
	workerlessCauses(s, add)
	return cs, lines
}

// stoppedLine says what a worker stopped by SIGSTOP holds: a job, a lock,
// or nothing.
func stoppedLine(w pools.Party) string {
	what := "a worker"
	switch {
	case w.Job >= 0:
		what = fmt.Sprintf("job %d is held by a worker that", w.Job)
	case len(w.Holds) > 0:
		what = fmt.Sprintf("the %s is held by a worker that", w.Holds[0])
	}
	return fmt.Sprintf("%s is stopped by SIGSTOP at %s (%s): it neither runs nor dies, and nothing sends SIGCONT", what, w.Stopped, w.Wait.Detail)
}

// evidence lists what in s only a hang can follow from, in a pool that
// never answers a lost job: a worker that died holding a job, or a parent
// goroutine that died. It reads the state, not the proof. (A lock that
// died with its holder is a cause only while some job still needs a
// worker; the proof names it, this does not.)
//
// 2.6's MapResult is ready at its first failed chunk, and answers every
// job of the map still out (s.Abandoned): a job lost after that, or a
// handler that dies after that, loses nothing the caller of a scenario's
// one map waits for.
func evidence(s pools.Snapshot) []string {
	var out []string
	abandoned := map[int]bool{}
	for _, j := range s.Abandoned {
		abandoned[j] = true
	}
	// A job already answered is no evidence: terminate() SIGTERMs workers
	// whose slot still names the job they have just answered.
	pending := map[int]bool{}
	for _, j := range s.Pending {
		pending[j] = true
	}
	for _, p := range s.Parties {
		switch {
		case p.Role == pools.RoleWorker && p.Exit != nil && p.Job >= 0 && !abandoned[p.Job] && pending[p.Job]:
			out = append(out, fmt.Sprintf("the worker that took job %d died holding it", p.Job))
		case p.Died && len(s.Abandoned) == 0:
			out = append(out, fmt.Sprintf("the %s died", p.Role))
		}
	}
	return out
}
