// Package faults is the catalog of faults a scenario can inject and the
// phases where they strike.
//
// Each fault kind lives in a file of its own: it registers the action that
// really happens (a write to a page mapped PROT_NONE, exit_group, a returned
// error, a stop that waits for a SIGKILL sent from outside) with
// [pools.RegisterAction], and its [Kind] with [Register], saying at which
// phases it is meaningful and why. Adding a fault kind is adding one file.
package faults

import (
	"fmt"
	"sort"
	"strings"
	"syscall"

	"github.com/poolhang/poolhang/pools"
)

// A Phase is where in a job's life (or a worker's idle time) a fault
// strikes.
type Phase string

const (
	TaskEncode     Phase = "task-encode"
	TaskDecode     Phase = "task-decode"
	TaskRun        Phase = "task-run"
	ResultEncode   Phase = "result-encode"
	ResultWrite    Phase = "result-write"
	ResultDecode   Phase = "result-decode"
	IdleLockHolder Phase = "idle-lock-holder"
	IdleLockWaiter Phase = "idle-lock-waiter"
	// Callback and Input are the caller's own code (caller.go).
	Callback    Phase = "callback"
	Input       Phase = "input"
	WorkerStart Phase = "worker-start"
)

// Where a phase runs.
type Where int

const (
	InParent Where = iota // the parent process (the harness itself)
	InWorker              // a worker holding the targeted job
	InIdle                // an idle worker, before any job is submitted
	InCaller              // the caller's own code, for the targeted job (caller.go)
	InStart               // each of the pool's first workers, once started and before its first task
)

// PhaseInfo describes a phase.
type PhaseInfo struct {
	Phase Phase
	Where Where
	// Point is where the phase's trigger acts, for job phases.
	Point pools.Point
	Doc   string
}

var phases = []PhaseInfo{
	{TaskEncode, InParent, pools.PointTaskEncode, "the parent encodes the task"},
	{TaskDecode, InWorker, pools.PointTaskDecode, "a worker took the task off the queue and decodes it"},
	{TaskRun, InWorker, pools.PointTaskRun, "inside the task function"},
	{ResultEncode, InWorker, pools.PointResultEncode, "the worker encodes the result, before any byte of it is written"},
	{ResultWrite, InWorker, pools.PointResultWrite, "the worker has written part of the result frame and holds the result write lock"},
	{ResultDecode, InParent, pools.PointResultDecode, "the parent receives and decodes the result"},
	{IdleLockHolder, InIdle, pools.PointIdle, "an idle worker holding the task queue's read lock while it waits"},
	{IdleLockWaiter, InIdle, pools.PointIdle, "an idle worker that does not hold the task queue's read lock"},
	{Callback, InCaller, 0, "the job's callback or error_callback runs (wait=callback)"},
	{Input, InCaller, 0, "the imap's input iterable produces the job (wait=imap, wait=imap_unordered)"},
	{WorkerStart, InStart, pools.PointWorkerStart, "each of the pool's first workers has started and not yet taken its first task"},
}

// TakesJob reports whether a fault at the phase targets a job (KIND@PHASE:JOB);
// the idle and start phases target workers instead.
func (p PhaseInfo) TakesJob() bool {
	return p.Where == InParent || p.Where == InWorker || p.Where == InCaller
}

// Phases lists every phase in the order of a job's life.
func Phases() []PhaseInfo { return append([]PhaseInfo(nil), phases...) }

// ParsePhase returns the phase named s.
func ParsePhase(s string) (PhaseInfo, error) {
	for _, p := range phases {
		if string(p.Phase) == s {
			return p, nil
		}
	}
	var names []string
	for _, p := range phases {
		names = append(names, string(p.Phase))
	}
	return PhaseInfo{}, fmt.Errorf("unknown phase %q (allowed: %s)", s, strings.Join(names, ", "))
}

// An Effect is what a fault does to the code at its point, whatever its
// cause. Expectations are argued per effect, so a new kind with a known
// effect needs no other edit.
type Effect string

const (
	// Raises: an ordinary error (Python's Exception) at the point.
	Raises Effect = "raises"
	// ExitRequest: Python's SystemExit at the point.
	ExitRequest Effect = "exit-request"
	// Dies: the process at the point ends (a signal or an exit).
	Dies Effect = "dies"
	// ReaderFails: the parent's result reader fails mid-frame.
	ReaderFails Effect = "reader-fails"
	// NeverReturns: the code at the point never returns.
	NeverReturns Effect = "never-returns"
	// Outsized: the task returns a result larger than the result pipe's
	// buffer, so its writer blocks in write(2) until a reader drains it.
	Outsized Effect = "outsized-result"
	// ParentDies: the pool's parent process is killed; what matters is
	// what becomes of its workers.
	ParentDies Effect = "parent-dies"
	// BlocksAtStart: a worker blocks for good before its first task.
	BlocksAtStart Effect = "blocks-at-start"
)

// A Kind is a type of fault.
type Kind struct {
	Name string
	// Models says what real event the kind is.
	Models string
	// Effect is what the fault does at its point.
	Effect Effect
	// Order places the kind in the catalog and the matrix.
	Order int
	// Action is the pools action that runs at the point (registered by
	// the kind's file).
	Action string
	// Signal, if set, is sent to the worker from outside once it reports
	// that it stopped at the point (Action must then call Strike.Await),
	// or at once to an idle worker.
	Signal syscall.Signal
	// Group: Signal goes to the pool's whole process group, and the
	// parent's side of it is modelled, as a terminal's Ctrl-C reaches
	// every process of its foreground job ([pools.Inspector.SignalGroup]).
	Group bool
	// Phases maps each meaningful phase to why it is meaningful there.
	Phases map[Phase]string
	// NotAt maps phases where the kind cannot strike to why not.
	NotAt map[Phase]string
	// Points overrides a phase's point (reader-memory-error strikes at
	// PointResultAlloc, where the parent allocates a frame's body).
	Points map[Phase]pools.Point
	// Wait, if set, is the caller's wait style ("join") in the kind's
	// standard scenario, where the kind is about how the caller waits.
	Wait string
	// Value, if set, is the value the targeted job returns instead of
	// its own (big-result's outsized result).
	Value func(job int) []byte
}

var kinds = map[string]Kind{}

// Register adds a kind to the catalog; call it from the kind's init.
func Register(k Kind) {
	if _, dup := kinds[k.Name]; dup {
		panic("faults: kind registered twice: " + k.Name)
	}
	kinds[k.Name] = k
}

// Kinds lists the catalog in order.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Order != out[j].Order {
			return out[i].Order < out[j].Order
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Lookup returns the kind named name.
func Lookup(name string) (Kind, error) {
	if k, ok := kinds[name]; ok {
		return k, nil
	}
	var names []string
	for _, k := range Kinds() {
		names = append(names, k.Name)
	}
	return Kind{}, fmt.Errorf("unknown fault kind %q (allowed: %s)", name, strings.Join(names, ", "))
}

// ErrImpossible is wrapped by every error for a (pool, kind, phase) that
// cannot happen.
var ErrImpossible = fmt.Errorf("impossible fault")

// Check reports whether kind can strike at phase in a pool of strategy s
// with the given number of workers, and if not, why.
func (k Kind) Check(s pools.Strategy, ph Phase, workers int) error {
	if _, ok := k.Phases[ph]; !ok {
		why := k.NotAt[ph]
		if why == "" {
			why = callerNotAt(k, ph)
		}
		if why == "" {
			why = "not meaningful there"
		}
		return fmt.Errorf("%w: %s at %s: %s (%s strikes at: %s)", ErrImpossible, k.Name, ph, why, k.Name, strings.Join(k.phaseNames(), ", "))
	}
	switch ph {
	case IdleLockHolder:
		if !s.SharedQueues() {
			return fmt.Errorf("%w: %s at %s: the %s pool has no task-queue read lock (its workers read private pipes)", ErrImpossible, k.Name, ph, s)
		}
		if why := s.IdleUnlocked(); why != "" {
			return fmt.Errorf("%w: %s at %s: %s", ErrImpossible, k.Name, ph, why)
		}
	case IdleLockWaiter:
		if s.SharedQueues() && s.IdleUnlocked() == "" && workers < 2 {
			return fmt.Errorf("%w: %s at %s: with one worker, that worker holds the read lock; a waiter needs at least 2 workers", ErrImpossible, k.Name, ph)
		}
	}
	return nil
}

func (k Kind) phaseNames() []string {
	var names []string
	for _, p := range phases {
		if _, ok := k.Phases[p.Phase]; ok {
			names = append(names, string(p.Phase))
		}
	}
	return names
}

// Meaningful lists the phases where the kind can strike, in phase order:
// the rows of the standard matrix. The caller's phases (caller.go) need
// a call style of their own, so they are left out; their sections name
// them.
func (k Kind) Meaningful() []Phase {
	var out []Phase
	for _, p := range phases {
		if _, ok := k.Phases[p.Phase]; ok && p.Where != InCaller {
			out = append(out, p.Phase)
		}
	}
	return out
}

// Trigger is what rides in the targeted job's task to strike at ph.
func (k Kind) Trigger(ph Phase) pools.Trigger {
	info, _ := ParsePhase(string(ph))
	at := info.Point
	if p, ok := k.Points[ph]; ok {
		at = p
	}
	return pools.Trigger{Action: k.Action, At: at}
}

// StrikeIdle makes the fault happen to idle worker pid of p: the signal,
// sent from outside, or the action, run in the worker through
// Pool.Interrupt.
func (k Kind) StrikeIdle(p pools.Pool, pid int) error {
	if k.Signal != 0 {
		return p.Signal(pid, k.Signal)
	}
	return p.Interrupt(pid, pools.Trigger{Action: k.Action, At: pools.PointIdle})
}

// The phases where a fault in a worker process is meaningful, and those
// where it would strike the parent: shared by the kinds that end a process.
// midFrame is what only a death from outside (a signal, a crash in another
// thread) can do: strike between the bytes of one write of a result frame.
var (
	midFrame = map[Phase]string{
		ResultWrite: "the worker dies after writing part of the result frame, holding the result write lock",
	}
	noCodeMidFrame = "the result frame is written by one send; no task code runs between its bytes"

	parentDies = map[Phase]string{
		TaskEncode:   "the parent encodes the task: this would end the harness, not a worker",
		ResultDecode: "the parent decodes the result: this would end the harness, not a worker",
	}
	processEnds = map[Phase]string{
		TaskDecode:     "the worker dies after taking the job off the queue",
		TaskRun:        "the worker dies inside the task function, holding the job",
		ResultEncode:   "the worker dies while it encodes the result, before any byte is written",
		IdleLockHolder: "the worker dies holding the task queue's read lock",
		IdleLockWaiter: "the worker dies while idle, holding nothing",
	}
)

// union merges phase maps; later maps win.
func union(ms ...map[Phase]string) map[Phase]string {
	out := map[Phase]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
