package pools

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
)

// A Point is a named place in a pool's code where a [Trigger] can act.
type Point uint8

const (
	_ Point = iota
	// PointTaskEncode: the parent encodes a task for the workers.
	PointTaskEncode
	// PointTaskDecode: a worker decodes a task it took off the queue.
	PointTaskDecode
	// PointTaskRun: inside the task function.
	PointTaskRun
	// PointResultEncode: a worker encodes a result, before writing any byte.
	PointResultEncode
	// PointResultWrite: a worker has written part of a result frame (and
	// holds the result write lock, where the pool has one).
	PointResultWrite
	// PointResultAlloc: the parent read a result frame's header and
	// allocates the buffer for its body.
	PointResultAlloc
	// PointResultDecode: the parent decodes a result frame it read whole.
	PointResultDecode
	// PointIdle: a worker between tasks, reached through [Pool.Interrupt].
	PointIdle
	// PointWorkerStart: a worker that has started and not yet taken its
	// first task (Options.StartTrigger).
	PointWorkerStart
	numPoints
)

var pointNames = [numPoints]string{
	PointTaskEncode:   "task-encode",
	PointTaskDecode:   "task-decode",
	PointTaskRun:      "task-run",
	PointResultEncode: "result-encode",
	PointResultWrite:  "result-write",
	PointResultAlloc:  "result-alloc",
	PointResultDecode: "result-decode",
	PointIdle:         "idle",
	PointWorkerStart:  "worker-start",
}

func (p Point) String() string {
	if p > 0 && p < numPoints {
		return pointNames[p]
	}
	return fmt.Sprintf("Point(%d)", uint8(p))
}

// A Trigger rides inside a task (and, for result points, inside its result)
// and runs the registered action named Action when the value reaches At.
// This is how CPython's test_concurrent_futures hides a crash or an exit in
// an object's __reduce__: the fault is real code at a real point, not a flag.
type Trigger struct {
	Action string
	At     Point
	Arg    int64
}

// An Action is code that runs at a point. The error it returns is raised
// there: an ordinary error, or an [*ExitRequest], which propagates like
// Python's SystemExit. An action may also never return (a crash, an exit).
type Action func(s *Strike) error

// A Strike tells an action where it runs.
type Strike struct {
	At  Point
	Job int
	Arg int64
	// Worker is true in a worker process, false in the parent.
	Worker bool

	await func(p Point, job int)
}

// Hang records in the worker's shared slot that the code at the point
// will never return, and blocks the calling goroutine forever: a task
// stuck for good. Only a kill ends it. In the parent it returns at once.
func (s *Strike) Hang() {
	if s.await != nil {
		s.await(s.At|pointHangs, s.Job)
	}
}

// pointHangs marks, in a slot's point, a stop that never ends by itself.
const pointHangs Point = 0x80

// pointStops marks, in a slot's point, a worker that stopped itself with
// SIGSTOP there: the kernel, not the worker, then says whether it runs.
const pointStops Point = 0x40

// Stop records in the worker's shared slot that it stops at the point,
// then sends itself a real SIGSTOP (kill(getpid(), SIGSTOP)): the whole
// process stops, in state T, until a SIGCONT or a SIGKILL. In the parent
// it returns at once.
func (s *Strike) Stop() {
	if s.await != nil {
		s.await(s.At|pointStops, s.Job)
	}
}

// Await records in the worker's shared slot that it reached the point and
// blocks the calling goroutine forever, so that something outside (a
// SIGKILL) can land exactly there. In the parent it returns at once.
func (s *Strike) Await() {
	if s.await != nil {
		s.await(s.At, s.Job)
	}
}

var actions struct {
	sync.RWMutex
	byName map[string]uint16
	list   []*actionEntry
}

type actionEntry struct {
	name string
	fn   Action
	used atomic.Bool // a trigger named it (for the test that every action is used)
}

// RegisterAction makes an action available to triggers, in the parent and
// in workers. Call it from an init function, so that a re-executed worker
// registers the same actions before [MaybeServeWorker] runs.
func RegisterAction(name string, fn Action) {
	actions.Lock()
	defer actions.Unlock()
	if actions.byName == nil {
		actions.byName = map[string]uint16{}
	}
	if _, dup := actions.byName[name]; dup {
		panic("pools: action registered twice: " + name)
	}
	actions.list = append(actions.list, &actionEntry{name: name, fn: fn})
	actions.byName[name] = uint16(len(actions.list)) // 0 means none
}

// Actions lists the registered action names.
func Actions() []string {
	actions.RLock()
	defer actions.RUnlock()
	names := make([]string, 0, len(actions.list))
	for _, a := range actions.list {
		names = append(names, a.name)
	}
	sort.Strings(names)
	return names
}

func actionID(name string) (uint16, error) {
	actions.RLock()
	defer actions.RUnlock()
	id, ok := actions.byName[name]
	if !ok {
		return 0, fmt.Errorf("pools: unknown action %q (registered: %v)", name, actionNamesLocked())
	}
	return id, nil
}

func actionNamesLocked() []string {
	names := make([]string, 0, len(actions.list))
	for _, a := range actions.list {
		names = append(names, a.name)
	}
	return names
}

func actionByID(id uint16) (*actionEntry, bool) {
	actions.RLock()
	defer actions.RUnlock()
	if id == 0 || int(id) > len(actions.list) {
		return nil, false
	}
	return actions.list[id-1], true
}

// fire runs every trigger of ts that acts at p and returns the first error.
// Each strikes the job it rides in (a map chunk carries several jobs); one
// that travels without its job strikes job, the job of its frame.
func fire(ts []trig, p Point, job int, worker bool, await func(Point, int)) error {
	for _, t := range ts {
		if Point(t.At) != p {
			continue
		}
		a, ok := actionByID(t.ID)
		if !ok {
			return fmt.Errorf("pools: trigger names unregistered action #%d", t.ID)
		}
		j := job
		if t.Job >= 0 {
			j = int(t.Job)
		}
		if err := a.fn(&Strike{At: p, Job: j, Arg: t.Arg, Worker: worker, await: await}); err != nil {
			return err
		}
	}
	return nil
}

// ownedBy sets the job every trigger of ts rides in.
func ownedBy(ts []trig, job int) []trig {
	for i := range ts {
		ts[i].Job = int64(job)
	}
	return ts
}

// wireTasks resolves the triggers of each task: the calls a map's tasks
// travel as.
func wireTasks(ts []Task) ([]wireTask, error) {
	calls := make([]wireTask, len(ts))
	for i, t := range ts {
		trigs, err := resolve(t.Triggers)
		if err != nil {
			return nil, err
		}
		calls[i] = wireTask{Trigs: trigs, Fn: t.Func, Arg: t.Arg}
	}
	return calls, nil
}

func resolve(ts []Trigger) ([]trig, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	out := make([]trig, len(ts))
	for i, t := range ts {
		id, err := actionID(t.Action)
		if err != nil {
			return nil, err
		}
		if t.At == 0 || t.At >= numPoints {
			return nil, fmt.Errorf("pools: trigger %q has invalid point %d", t.Action, t.At)
		}
		out[i] = trig{ID: id, At: uint8(t.At), Arg: t.Arg, Job: -1}
		if a, ok := actionByID(id); ok {
			a.used.Store(true)
		}
	}
	return out, nil
}

// RunAction runs the registered action named name in this process, as if a
// trigger reached point at in a worker. It is for tests that prove what an
// action really does to a process.
func RunAction(name string, at Point) error {
	ts, err := resolve([]Trigger{{Action: name, At: at}})
	if err != nil {
		return err
	}
	return fire(ts, at, 0, true, nil)
}

// AwaitParentDeath records in the worker's shared slot that it reached
// the point, waits until its parent process has ended, and returns, so
// that the code at the point goes on with no parent: what a worker does
// when its parent is killed mid-task. In the parent, or with no parent
// to watch, it returns at once.
func (s *Strike) AwaitParentDeath() {
	if s.await == nil || parentDeath == nil {
		return
	}
	parentDeath(s.At, s.Job)
}

// parentDeath is set by the worker runtime (see worker.awaitParent).
var parentDeath func(p Point, job int)

// BlockOnInheritedLock blocks the worker for good on a lock it inherited
// held: a lock word in its own memory that says thread holder of the
// parent holds it, as a child forked while another thread held a lock
// finds its copy (python/cpython issue 105464). It records that in the
// slot first. In the parent it returns at once.
func (s *Strike) BlockOnInheritedLock(holder int64) {
	if s.await == nil || inheritedLock == nil {
		return
	}
	inheritedLock(holder)
}

// inheritedLock is set by the worker runtime (see worker.blockInherited).
var inheritedLock func(holder int64)
