package pools

import (
	"fmt"
	"time"
)

// TrackedDeadlines is the supervisor's deadline bookkeeping of each
// worker of a tracked pool, for a test that checks that a snapshot
// leaves it as it was.
func TrackedDeadlines(p Pool) []string {
	t := p.(*tracked)
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, tw := range t.ws {
		d, known := t.headDeadlineLocked(tw)
		out = append(out, fmt.Sprintf("worker %d: since %v, looked %v, deadline %v (runs %v)", tw.pr.PID, tw.since, t.looked, d, known))
	}
	return out
}

// TrackedTaken is when the worker holding job took it, as its slot
// says, in this process's clock; false if no worker has stamped it.
func TrackedTaken(p Pool, job int) (time.Time, bool) {
	t := p.(*tracked)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tw := range t.ws {
		if s := slotOf(t.reg, tw.pr.idx); s.TakenJob().Load() == int64(job) {
			return t.shared(s.TakenAt().Load()), true
		}
	}
	return time.Time{}, false
}
