package pools_test

import (
	"context"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// TestSnapshotVocabulary checks that every party of every strategy has a
// role and every wait a kind, in a fresh pool, through a hang (a worker
// dead holding a job, one stuck in a task that never returns, one stopped
// for a signal) and while a Join waits, so a proof never has to read prose.
func TestSnapshotVocabulary(t *testing.T) {
	for _, s := range strategies(t) {
		t.Run(string(s), func(t *testing.T) {
			p, err := pools.Start(s, pools.Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Terminate()
			seen := map[pools.WaitKind]bool{}
			check := func(snap pools.Snapshot) {
				t.Helper()
				for _, q := range snap.Parties {
					if q.Role == 0 {
						t.Fatalf("party %q has no role", q.ID)
					}
					if (q.Role == pools.RoleWorker) != q.Worker || (q.Role == pools.RoleWorker) != (q.Slot > 0) {
						t.Fatalf("party %q: role %v, Worker %v, slot %d", q.ID, q.Role, q.Worker, q.Slot)
					}
					if q.Wait != nil {
						if q.Wait.Kind == 0 {
							t.Fatalf("party %q waits for %q with no kind", q.ID, q.Wait.For)
						}
						seen[q.Wait.Kind] = true
					}
				}
			}
			check(p.Snapshot())
			if ps := workerSlots(p.Snapshot()); len(ps) != 2 || ps[0] != 1 || ps[1] != 2 {
				t.Fatalf("worker slots %v, want [1 2]", ps)
			}
			ts := squares(4)
			ts[1] = withFault(ts[1], "segfault", faults.TaskRun)
			ts[2] = withFault(ts[2], "stuck", faults.TaskRun)
			ts[3] = withFault(ts[3], "sigkill", faults.TaskRun)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			mapped := make(chan struct{})
			go func() { p.Map(ctx, ts); close(mapped) }()
			deadline := time.Now().Add(20 * time.Second)
			// FailFast breaks at the first death: its map returns.
			for !(seen[pools.WaitJobResult] && seen[pools.WaitNeverReturns]) && !isClosed(mapped) {
				if time.Now().After(deadline) {
					t.Fatalf("no caller waiting on a task that never returns; saw %v", seen)
				}
				check(p.Snapshot())
				time.Sleep(time.Millisecond)
			}
			p.Close()
			joined := make(chan struct{})
			go func() { p.Join(ctx); close(joined) }()
			for !seen[pools.WaitGoroutine] && !isClosed(joined) && time.Now().Before(deadline) {
				check(p.Snapshot())
				time.Sleep(time.Millisecond)
			}
			check(p.Snapshot())
			p.Terminate()
			cancel()
			<-mapped
			<-joined
		})
	}
}

func workerSlots(s pools.Snapshot) []int {
	var out []int
	for _, w := range s.Parties {
		if w.Role == pools.RoleWorker {
			out = append(out, w.Slot)
		}
	}
	return out
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
