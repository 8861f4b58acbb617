package scenarios

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/poolhang/poolhang/faults"
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
	d := newDrawing(o.Final, o.Proof, pids)
	g := &waitgraph.Graph{Title: o.Scenario.String(), Provenance: waitgraph.Proven}
	var lost []string
	outside := map[string]bool{}
	for _, p := range d.s.Parties {
		if !d.in[p.ID] {
			continue
		}
		g.Nodes = append(g.Nodes, d.node(p))
		if d.lost(p) {
			lost = append(lost, fmt.Sprintf("job %d is lost: %s was %s in %s", p.Job, d.names[p.PID], p.Exit, p.Phase))
		}
		g.Edges = append(g.Edges, d.waits(p, outside)...)
	}
	g.Edges = append(g.Edges, d.deadEdges()...)
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

// A drawing is what a wait-for graph is drawn from: the final snapshot,
// the stuck set, the parties involved and how workers are named.
type drawing struct {
	s       pools.Snapshot
	pids    bool
	stuck   map[string]bool
	in      map[string]bool // the parties drawn
	pending map[int]bool
	names   map[int]string // worker pid -> label
}

func newDrawing(s pools.Snapshot, pr Proof, pids bool) *drawing {
	d := &drawing{s: s, pids: pids, stuck: map[string]bool{}, in: map[string]bool{}, pending: map[int]bool{}, names: workerLabels(s, pids)}
	for _, id := range pr.Stuck {
		d.stuck[id] = true
	}
	for _, j := range s.Pending {
		d.pending[j] = true
	}
	for _, p := range s.Parties {
		// From the stuck caller, and from every party that died (the
		// dead are the roots of a hang).
		if p.Role == pools.RoleCaller && d.stuck[p.ID] || p.Exit != nil || p.Died {
			d.walk(p)
		}
	}
	return d
}

// walk adds p and, while p is stuck, every party its wait could be
// released by.
func (d *drawing) walk(p pools.Party) {
	if d.in[p.ID] {
		return
	}
	d.in[p.ID] = true
	if !d.stuck[p.ID] || p.Wait == nil {
		return
	}
	for _, r := range p.Wait.Releasers {
		if q, ok := d.s.PartyByID(r); ok {
			d.walk(q)
		}
	}
}

func (d *drawing) id(p pools.Party) string {
	if p.Role == pools.RoleWorker {
		return d.names[p.PID]
	}
	return p.ID
}

// lost reports whether p is a dead worker that took a job nobody answered.
func (d *drawing) lost(p pools.Party) bool {
	return p.Role == pools.RoleWorker && p.Exit != nil && p.Job >= 0 && d.pending[p.Job]
}

func (d *drawing) node(p pools.Party) waitgraph.Node {
	n := waitgraph.Node{ID: d.id(p), Label: p.Role.String(), Kind: nodeKind(p.Role), State: nodeState(p), Stuck: d.stuck[p.ID], Doing: p.State}
	if p.Role == pools.RoleWorker {
		n.Label, n.Doing = d.names[p.PID], workerDoing(p)
		if d.pids {
			n.PID = p.PID
		}
	}
	switch {
	case p.Job >= 0 && (d.pids || p.Exit != nil):
		n.Job = fmt.Sprintf("job %d", p.Job)
	case p.Job >= 0:
		// Which job a live worker holds when the hang is proven is the
		// workers' race; a dead worker's job is the lost one.
		n.Job = "a job"
	}
	n.Irreplaceable = p.Died || d.lost(p) || p.Role == pools.RoleWorker && p.Exit != nil && holdsLock(d.s, p.PID)
	return n
}

// waits are p's recorded wait, one edge per releaser drawn; releasers
// outside the pool (the harness, the clock) are noted in outside.
func (d *drawing) waits(p pools.Party, outside map[string]bool) []waitgraph.Edge {
	if p.Wait == nil || p.Wait.Ready || p.Exit != nil || p.Done {
		return nil
	}
	var es []waitgraph.Edge
	on := waitLabel(d.s, p.Wait, d.names)
	for _, r := range p.Wait.Releasers {
		to := r
		if q, ok := d.s.PartyByID(r); ok {
			if !d.in[q.ID] {
				continue
			}
			to = d.id(q)
		} else {
			outside[r] = true
		}
		es = append(es, waitgraph.Edge{From: d.id(p), To: to, On: on})
	}
	return es
}

// deadEdges are the waits on the dead that the pools do not list as
// releasers, since only the living can release: a result pipe's dead
// writers, and the dead worker that alone could answer a lost job.
func (d *drawing) deadEdges() []waitgraph.Edge {
	var es []waitgraph.Edge
	for _, r := range d.s.Parties {
		if !d.in[r.ID] || r.Exit != nil || r.Wait == nil || r.Wait.Ready {
			continue
		}
		for _, w := range d.s.Parties {
			switch {
			case !d.in[w.ID] || w.Role != pools.RoleWorker || w.Exit == nil:
			case r.Wait.Kind == pools.WaitResultPipe:
				es = append(es, waitgraph.Edge{From: d.id(r), To: d.id(w), On: "the result pipe (a writer, now dead)"})
			case r.Wait.Kind == pools.WaitJobResult && d.lost(w):
				es = append(es, waitgraph.Edge{From: d.id(r), To: d.id(w), On: fmt.Sprintf("job %d, which only it could answer", w.Job)})
			}
		}
	}
	return es
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
	case isStopped(p):
		return waitgraph.Stopped
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

// GraphRace says why a hang cell's picture can differ from run to run
// while its verdict, causes and summary do not, or "". pebble 5.0's
// workers take a task and send its ACK inside the channel mutexes, and
// send a result inside the writer mutex: a worker that dies or stops in
// there (task-decode, result-encode, result-write) holds them, and
// whether the other worker is then blocked on them holding a later job,
// or has already answered every later job and waits for a task, is
// decided by which of them reached the mutexes first. The model keeps
// that race (its strike waits only for earlier jobs' results, the side
// the real pool almost always takes), so the picture shows either final
// state; on an idle machine, the first.
func GraphRace(c Cell) string {
	if c.Pool == pools.Pebble && (c.Phase == faults.TaskDecode || c.Phase == faults.ResultEncode || c.Phase == faults.ResultWrite) {
		return "which of pebble's workers reaches the channel mutexes first: the other worker blocked on them holding a later job, or done with every later job"
	}
	return ""
}
