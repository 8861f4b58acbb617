package scenarios

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/waitgraph"
)

// WaitGraph draws a proven hang from the proof itself, not from the
// prose: the caller and every party it transitively waits for through the
// stuck set, each with its state; every wait as an edge to each party that
// could release it, labelled with what it waits on; the dead parties that
// nobody can replace highlighted; the lost jobs named. It is nil unless
// the verdict is a hang.
//
// With pids false, as in the committed results, a worker is named by what
// it did in the hang (the worker that took job 2, the holder of a lock)
// and no pid appears, because which slot takes job 2 is the workers' race
// and pids change on every run.
func (o Outcome) WaitGraph(pids bool) *waitgraph.Graph {
	if o.Verdict != Hang {
		return nil
	}
	s, pr := o.Final, o.Proof
	stuck := map[string]bool{}
	for _, id := range pr.Stuck {
		stuck[id] = true
	}
	names := workerLabels(s, pids)
	pending := map[int]bool{}
	for _, j := range s.Pending {
		pending[j] = true
	}
	// The parties the caller's hang involves: from the caller, through
	// the waits of stuck parties, to the parties they wait on.
	in := map[string]bool{}
	var walk func(p pools.Party)
	walk = func(p pools.Party) {
		if in[p.ID] {
			return
		}
		in[p.ID] = true
		if !stuck[p.ID] || p.Wait == nil {
			return
		}
		for _, r := range p.Wait.Releasers {
			if q, ok := s.PartyByID(r); ok {
				walk(q)
			}
		}
	}
	for _, p := range s.Parties {
		// Every party that died is drawn too: the dead are the roots.
		if p.Role == pools.RoleCaller && stuck[p.ID] || p.Exit != nil || p.Died {
			walk(p)
		}
	}
	g := &waitgraph.Graph{Title: o.Scenario.String(), Provenance: waitgraph.Proven}
	id := func(p pools.Party) string {
		if p.Role == pools.RoleWorker {
			return names[p.PID]
		}
		return p.ID
	}
	var lost []string
	outside := map[string]bool{}
	for _, p := range s.Parties {
		if !in[p.ID] {
			continue
		}
		n := waitgraph.Node{ID: id(p), Label: p.Role.String(), Kind: nodeKind(p.Role), State: nodeState(p), Stuck: stuck[p.ID]}
		if p.Role == pools.RoleWorker {
			n.Label = names[p.PID]
			if pids {
				n.PID = p.PID
			}
			n.Doing = workerDoing(p)
		} else {
			n.Doing = p.State
		}
		switch {
		case p.Job >= 0 && (pids || p.Exit != nil):
			n.Job = fmt.Sprintf("job %d", p.Job)
		case p.Job >= 0:
			// Which job a live worker holds when the hang is proven is
			// the workers' race; a dead worker's job is the lost one.
			n.Job = "a job"
		}
		if p.Role == pools.RoleWorker && p.Exit != nil && p.Job >= 0 && pending[p.Job] {
			lost = append(lost, fmt.Sprintf("job %d is lost: %s was %s in %s", p.Job, names[p.PID], p.Exit, p.Phase))
		}
		n.Irreplaceable = p.Died || p.Role == pools.RoleWorker && p.Exit != nil && (p.Job >= 0 && pending[p.Job] || holdsLock(s, p.PID))
		g.Nodes = append(g.Nodes, n)
		if p.Wait == nil || p.Wait.Ready || p.Exit != nil || p.Done {
			continue
		}
		on := waitLabel(s, p.Wait, names)
		for _, r := range p.Wait.Releasers {
			to := r
			if q, ok := s.PartyByID(r); ok {
				if !in[q.ID] {
					continue
				}
				to = id(q)
			} else {
				outside[r] = true
			}
			g.Edges = append(g.Edges, waitgraph.Edge{From: n.ID, To: to, On: on})
		}
	}
	// A pipe's writers that died are the ones the reader waited on; the
	// pools list only the living as releasers, so draw the dead here.
	for _, r := range s.Parties {
		if !in[r.ID] || r.Exit != nil || r.Wait == nil || r.Wait.Ready || r.Wait.Kind != pools.WaitResultPipe {
			continue
		}
		for _, w := range s.Parties {
			if in[w.ID] && w.Role == pools.RoleWorker && w.Exit != nil {
				g.Edges = append(g.Edges, waitgraph.Edge{From: id(r), To: id(w), On: "the result pipe (a writer, now dead)"})
			}
		}
	}
	// A job taken by a dead worker can only ever be answered by that
	// worker: whoever waits for it waits on the dead.
	for _, p := range s.Parties {
		if p.Role != pools.RoleWorker || p.Exit == nil || p.Job < 0 || !pending[p.Job] {
			continue
		}
		for _, c := range s.Parties {
			if in[c.ID] && c.Wait != nil && c.Wait.Kind == pools.WaitJobResult && !c.Wait.Ready {
				g.Edges = append(g.Edges, waitgraph.Edge{From: id(c), To: id(p), On: fmt.Sprintf("job %d, which only it could answer", p.Job)})
			}
		}
	}
	for _, r := range sortedKeys(outside) {
		g.Nodes = append(g.Nodes, waitgraph.Node{ID: r, Label: r, Kind: waitgraph.External, State: waitgraph.Running})
	}
	sort.SliceStable(g.Nodes, func(i, j int) bool { return nodeOrder(g.Nodes[i]) < nodeOrder(g.Nodes[j]) })
	sort.SliceStable(g.Edges, func(i, j int) bool {
		a, b := g.Edges[i], g.Edges[j]
		return a.From+"\x00"+a.To+"\x00"+a.On < b.From+"\x00"+b.To+"\x00"+b.On
	})
	sort.Strings(lost)
	g.Caption = strings.Join(lost, "; ")
	return g
}

// workerLabels names each worker by what it did in the hang, so that the
// picture does not depend on which slot won a race: the worker that took
// a job, the holder of a lock, then the rest as "another worker",
// numbered in an order of their states. With pids, the slot is added.
func workerLabels(s pools.Snapshot, pids bool) map[int]string {
	type w struct {
		p   pools.Party
		key string
	}
	var rest []w
	out := map[int]string{}
	for _, p := range s.Parties {
		if p.Role != pools.RoleWorker {
			continue
		}
		switch {
		case p.Exit != nil && p.Job >= 0:
			out[p.PID] = fmt.Sprintf("the worker that took job %d", p.Job)
		case holdsLock(s, p.PID):
			out[p.PID] = "the worker holding the " + heldLock(s, p.PID)
		default:
			rest = append(rest, w{p, workerDoing(p)})
		}
	}
	sort.SliceStable(rest, func(i, j int) bool { return rest[i].key < rest[j].key })
	for i, x := range rest {
		out[x.p.PID] = "another worker"
		if len(rest) > 1 {
			out[x.p.PID] = fmt.Sprintf("another worker (%d)", i+1)
		}
	}
	if pids {
		for _, p := range s.Parties {
			if p.Role == pools.RoleWorker {
				out[p.PID] += fmt.Sprintf(" [w%d]", p.Slot)
			}
		}
	}
	return out
}

func holdsLock(s pools.Snapshot, pid int) bool { return heldLock(s, pid) != "" }

func heldLock(s pools.Snapshot, pid int) string {
	for _, l := range s.Locks {
		if l.Holder == pid && pid != 0 {
			return l.Name
		}
	}
	return ""
}

// workerDoing says what a worker does or how it ended, with no pid.
func workerDoing(p pools.Party) string {
	if p.Exit != nil {
		d := p.Exit.String()
		if p.Job >= 0 && p.Phase != "" {
			d += " in " + p.Phase
		}
		return d
	}
	if p.Wait != nil {
		return p.Wait.For
	}
	return p.State
}

// waitLabel says what a wait is on, naming a lock's holder by its label.
func waitLabel(s pools.Snapshot, w *pools.Wait, names map[int]string) string {
	switch {
	case w.Kind == pools.WaitLock && w.Holder != 0:
		if n, ok := names[w.Holder]; ok {
			return w.For + ", held by " + n
		}
		return w.For + ", held by the parent"
	}
	return w.For
}

func nodeKind(r pools.Role) waitgraph.Kind {
	switch r {
	case pools.RoleCaller:
		return waitgraph.Caller
	case pools.RoleWorker:
		return waitgraph.Worker
	case pools.RoleOutside, pools.RoleClock:
		return waitgraph.External
	}
	return waitgraph.Thread
}

func nodeState(p pools.Party) waitgraph.State {
	switch {
	case p.Exit != nil && p.Zombie:
		return waitgraph.Zombie
	case p.Exit != nil, p.Done:
		return waitgraph.Reaped
	case p.Wait != nil && !p.Wait.Ready:
		return waitgraph.Blocked
	}
	return waitgraph.Running
}

// nodeOrder draws the caller first, then threads, then workers, each by
// name, so that the DOT text does not depend on the snapshot's order.
func nodeOrder(n waitgraph.Node) string { return fmt.Sprintf("%d %s", n.Kind, n.ID) }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
