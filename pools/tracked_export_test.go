package pools

import "fmt"

// TrackedDeadlines is the supervisor's deadline bookkeeping of each
// worker of a tracked pool, for a test that checks that a snapshot
// leaves it as it was.
func TrackedDeadlines(p Pool) []string {
	t := p.(*tracked)
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, tw := range t.ws {
		out = append(out, fmt.Sprintf("worker %d: since %v, heard %d, clocked %p", tw.pr.PID, tw.since, tw.heard, tw.clocked))
	}
	return out
}
