package waitgraph

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every error that rejects an input.
var ErrInvalid = errors.New("waitgraph: invalid input")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
}

// A Kind is what sort of party a node is.
type Kind int

const (
	Caller   Kind = iota // the code that called the pool and waits for answers
	Thread               // a parent thread or goroutine: task handler, result handler, ...
	Worker               // a worker process
	External             // something outside the pool that could release a wait: a harness, the clock
)

var kindNames = [...]string{"caller", "parent thread", "worker process", "outside the pool"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// A State is what a party is doing, as ps would show it.
type State int

const (
	Blocked State = iota // alive and blocked (S)
	Running              // alive and running (R)
	Zombie               // ended and not reaped: <defunct> (Z)
	Reaped               // ended and reaped: gone from the process table
	Stopped              // stopped by a signal (T)
)

var stateNames = [...]string{"alive, blocked", "running", "zombie <defunct>", "dead, reaped", "stopped (T)"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// Dead reports whether the party has ended.
func (s State) Dead() bool { return s == Zombie || s == Reaped }

// Provenance says how a graph is known.
type Provenance int

const (
	// Proven: computed from the pool's recorded state, checked against
	// ground truth (poolhang's own models).
	Proven Provenance = iota
	// Observed: read from evidence (thread stacks, wait channels) of a
	// real pool that gave no answer; drawn dashed.
	Observed
)

func (p Provenance) String() string {
	switch p {
	case Proven:
		return "proven from the pool's state"
	case Observed:
		return "observed from evidence, not proven"
	}
	return fmt.Sprintf("Provenance(%d)", int(p))
}

// A Node is one party.
type Node struct {
	// ID names the party uniquely within the graph; edges refer to it.
	ID string
	// Label is the name shown: "caller", "result handler", "worker".
	Label string
	Kind  Kind
	State State
	// PID is shown when it is not 0.
	PID int
	// Doing says what the party does or how it ended: "in join()",
	// "killed by SIGSEGV in task-run". Optional.
	Doing string
	// Job is the job the party holds, as shown: "job 2". Optional.
	Job string
	// Irreplaceable marks the dead party that nobody can replace, the
	// root of the hang. It is highlighted.
	Irreplaceable bool
	// Stuck marks a party in the stuck set: it can never move.
	Stuck bool
}

// An Edge is one wait: From waits, and To is the party whose progress
// could release it.
type Edge struct {
	From, To string
	// On is what From waits on: "the result pipe", "the task queue's read
	// lock held by pid 4242", "the result of job 2".
	On string
}

// A Graph is the wait-for graph of one scenario.
type Graph struct {
	// Title is the scenario text.
	Title string
	// Caption names the lost job: "job 2 is lost: taken by worker 4242,
	// killed by SIGSEGV in task-run". Optional.
	Caption    string
	Provenance Provenance
	// Evidence says, for an observed graph, what it was read from:
	// "py-spy dump; /proc/PID/wchan". Optional.
	Evidence string
	Nodes    []Node
	Edges    []Edge
}

// Validate reports the first thing wrong with g, naming what is allowed.
func (g *Graph) Validate() error {
	if g == nil {
		return invalid("nil graph")
	}
	if g.Title == "" {
		return invalid("graph has no title; want the scenario text")
	}
	if g.Provenance != Proven && g.Provenance != Observed {
		return invalid("provenance %d; want Proven or Observed", int(g.Provenance))
	}
	if len(g.Nodes) == 0 {
		return invalid("graph %q has no parties", g.Title)
	}
	seen := make(map[string]bool, len(g.Nodes))
	for i, n := range g.Nodes {
		switch {
		case n.ID == "":
			return invalid("party %d has an empty ID", i)
		case seen[n.ID]:
			return invalid("party %d: ID %q is used twice", i, n.ID)
		case n.Kind < Caller || n.Kind > External:
			return invalid("party %q: kind %d; want Caller, Thread, Worker or External", n.ID, int(n.Kind))
		case n.State < Blocked || n.State > Stopped:
			return invalid("party %q: state %d; want Blocked, Running, Zombie, Reaped or Stopped", n.ID, int(n.State))
		case n.PID < 0:
			return invalid("party %q: pid %d; want a pid > 0, or 0 for none", n.ID, n.PID)
		}
		seen[n.ID] = true
	}
	for i, e := range g.Edges {
		if !seen[e.From] {
			return invalid("wait %d: waiter %q is not a party", i, e.From)
		}
		if !seen[e.To] {
			return invalid("wait %d: releaser %q is not a party", i, e.To)
		}
	}
	return nil
}
