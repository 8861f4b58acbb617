package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"github.com/poolhang/poolhang/pools"
)

// Livelock: proven from the snapshots: workers start and die again and
// again, and the caller can never be answered. It is neither a hang (a
// party keeps moving: the pool starts workers) nor an answer.
const Livelock Verdict = "livelock"

// CauseInitLoop: the pool's initializer raises in every worker it starts,
// and the pool replaces each with no bound (python/cpython issue 87472).
const CauseInitLoop Cause = "initializer-fails-every-start"

// proveLivelock proves a livelock from one snapshot, the way prove proves
// a hang, from recorded state rather than from a count of restarts:
//   - the pool's initializer raises in every worker it starts
//     (Snapshot.InitFails: the same call on every start, no randomness),
//     so every live worker that has not finished starting (Party.Init)
//     will end before it takes a task;
//   - the party that replaces dead workers does so with no bound
//     (Snapshot.Respawner), so all it can ever do is start more of them;
//   - no other live worker exists (one past its initializer could run
//     tasks), and at least one worker has died in its initializer, so
//     the cycle is seen, not only foretold;
//
// so those parties can release nobody, and with them counted out, the
// caller is in the set of parties that can never move.
func proveLivelock(s pools.Snapshot) Proof {
	if !s.InitFails || s.Respawner == "" {
		return Proof{}
	}
	futile := map[string]bool{s.Respawner: true}
	diedInInit := false
	for _, p := range s.Parties {
		if p.Role != pools.RoleWorker {
			continue
		}
		if p.Exit != nil {
			diedInInit = diedInInit || p.Phase == pools.PhaseInitializer
			continue
		}
		if !p.Init {
			return Proof{} // a worker got past its initializer
		}
		futile[p.ID] = true
	}
	if !diedInInit {
		return Proof{} // the cycle is not seen yet: no worker died of it
	}
	pr := proveExcept(s, futile)
	if !pr.Hang {
		return Proof{}
	}
	for id := range futile {
		pr.Stuck = append(pr.Stuck, id)
	}
	slices.Sort(pr.Stuck)
	return pr
}

// sameJobs reports whether two snapshots have the same pending jobs: no
// job moved between them.
func sameJobs(a, b pools.Snapshot) bool {
	return a.Consistent && b.Consistent && slices.Equal(a.Pending, b.Pending)
}

// diagnoseLivelock tells a proven livelock; the summary leaves out how
// many workers died so far, which is a race.
func diagnoseLivelock(s pools.Snapshot, pr Proof) ([]Cause, string, string) {
	died, starting := 0, 0
	for _, p := range s.Parties {
		switch {
		case p.Role != pools.RoleWorker:
		case p.Exit != nil:
			died++
		case p.Init:
			starting++
		}
	}
	respawner := "the pool"
	if p, ok := s.PartyByID(s.Respawner); ok {
		respawner = partyName(p)
	}
	why := fmt.Sprintf("the pool's initializer raises in every worker it starts, and %s replaces each one with no bound: no worker ever takes a task", respawner)
	var caller string
	if len(s.Parties) > 0 && s.Parties[0].Role == pools.RoleCaller {
		caller = fmt.Sprintf("%s is %s", partyName(s.Parties[0]), s.Parties[0].State)
	}
	pending := fmt.Sprintf("%d %s never taken", len(s.Pending), plural(len(s.Pending), "job", "jobs"))
	account := strings.Join([]string{why, caller, pending,
		fmt.Sprintf("%d %s seen dead so far, %d starting", died, plural(died, "worker", "workers"), starting)}, "; ")
	return []Cause{CauseInitLoop}, "livelock: " + account, "livelock: " + strings.Join([]string{why, caller, pending}, "; ")
}

// CauseNoWorker: jobs wait, and no worker is left to take them, nor any
// party that would start one: 2.6's Pool after every worker died in its
// initializer, or 3.11's ProcessPoolExecutor whose retired workers were
// not replaced (python/cpython issue 115634).
const CauseNoWorker Cause = "no-worker-left"

// workerlessCauses adds CauseNoWorker to a hang's causes when jobs are
// pending and every worker has ended.
func workerlessCauses(s pools.Snapshot, add func(Cause, string)) {
	if len(s.Pending) == 0 || s.Respawner != "" {
		return
	}
	workers, inInit, retired := 0, 0, 0
	for _, p := range s.Parties {
		if p.Role != pools.RoleWorker {
			continue
		}
		if p.Exit == nil {
			return
		}
		workers++
		switch {
		case p.Phase == pools.PhaseInitializer:
			inInit++
		case p.Exit.Signal == 0 && p.Exit.Code == 0 && p.Job < 0:
			retired++
		}
	}
	if workers == 0 {
		return
	}
	why := "every worker has ended"
	switch {
	case inInit == workers:
		why = "every worker died in the pool's initializer, and nothing replaces them"
	case retired > 0:
		why = "every worker has ended, the last retired after its task limit, and none was replaced"
	}
	add(CauseNoWorker, fmt.Sprintf("%s: %d %s wait and no worker is left to take them", why, len(s.Pending), plural(len(s.Pending), "job", "jobs")))
}
