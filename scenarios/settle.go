package scenarios

import "github.com/poolhang/poolhang/pools"

// settleAcks waits, in a pool whose workers acknowledge jobs (billiard),
// until every worker has started and waits for a task before the call.
// There, whether a worker that dies before acknowledging job 2 fails the
// map or loses it depends on whether that worker had acknowledged an
// earlier chunk of the same map (billiard's MapResult.worker_pids): a
// worker still starting when the map arrives could take job 2 as its
// first. The real driver's Python pool has its workers waiting by the
// time its map is sent; so does the model's, from here.
func (r *run) settleAcks(wait func() error) error {
	d, err := pools.Lookup(r.sc.Pool)
	if err != nil || !d.Worker.Ack || hasStartFault(r.sc) || r.sc.Initializer != "" {
		// Workers blocked at their start, or dying in the pool's
		// initializer, never come to wait for a task.
		return err
	}
	for {
		if s := r.snapshot(); s.Consistent && acksSettled(s) {
			return nil
		}
		if err := wait(); err != nil {
			return err
		}
	}
}

// acksSettled reports whether every live worker waits for a task and, with
// shared queues, one of them holds the read lock while it does.
func acksSettled(s pools.Snapshot) bool {
	live := 0
	for _, w := range s.Parties {
		if w.Role != pools.RoleWorker || w.Exit != nil {
			continue
		}
		live++
		if !w.Idle || w.Wait == nil {
			return false
		}
	}
	return live > 0 && (len(s.Locks) == 0 || s.Locks[0].Holder != 0)
}

// hasStartFault reports whether a fault of sc strikes at the workers'
// start.
func hasStartFault(sc Scenario) bool {
	for _, f := range sc.Faults {
		if atStart(f) {
			return true
		}
	}
	return false
}
