package pools

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// A Strategy names a pool design. Each strategy's file registers its
// [Definition] with [Define]; everything the rest of the program asks of a
// strategy is a lookup of that definition.
type Strategy string

// A Definition is what a strategy is: a pool design, the system it
// models, how its workers behave and how it starts. etcd's functional
// tester keeps its failure cases the same way, as data.
type Definition struct {
	Name Strategy
	// Order is its column in the result matrix: [Strategies] lists
	// strategies by Order.
	Order int
	// Models says in a sentence what the design is.
	Models string
	// Follows names the system it models, with the version whose source
	// it follows where versions differ: "CPython 2.6 multiprocessing.Pool".
	Follows string
	// Functions are the functions of that source the model follows.
	Functions []string
	// SharedQueues: every worker reads one task pipe and writes one
	// result pipe, guarded by process-shared locks (a task read lock and a
	// result write lock). Without it there is no lock to die holding.
	SharedQueues bool
	// IdleUnlocked, if set, says why the strategy's idle workers hold no
	// lock while they wait for a task (so there is no idle lock holder to
	// strike, and any idle worker is a lock waiter).
	IdleUnlocked string
	// Worker is what runs inside its worker processes.
	Worker WorkerMode
	// InterruptibleWaits: a SIGINT to the parent ends the caller's blocking
	// wait (map, get, join) with KeyboardInterrupt. True from Python 3.2,
	// where lock acquires are interruptible on POSIX (threading.Event.wait
	// under Pool.map and Future.result); false for 2.6, whose
	// Condition.wait() without a timeout blocks in an acquire that retries
	// on EINTR (bpo 8296).
	InterruptibleWaits bool
	// Options lists the strategy-specific options it supports; [Start]
	// refuses any other that is set.
	Options []Option
	// Start starts a pool; o is checked already.
	Start func(o Options) (Pool, error)
}

// A WorkerMode is the part of a strategy that runs inside its workers.
type WorkerMode struct {
	// DecodeInLock: the task is decoded while the read lock is held
	// (2.6 SimpleQueue.get unpickles inside recv, under the lock).
	DecodeInLock bool
	// CatchAll: the call and the sending of its result are guarded by
	// `except BaseException`, so an exit request becomes the job's error.
	// Otherwise only ordinary errors are caught (`except Exception`).
	CatchAll bool
	// SendEncodeError: a result that fails to encode is sent as that
	// job's error (3.x MaybeEncodingError); otherwise the error escapes
	// the worker's loop.
	SendEncodeError bool
	// SayExiting: on the sentinel the worker writes its pid to the result
	// pipe before it exits (3.x concurrent.futures.process._process_worker).
	SayExiting bool
	// GuardDecode: an error decoding a task becomes that job's error, and
	// the worker goes on (the job id travels in the envelope).
	GuardDecode bool
	// InitReturns: an initializer that raises is caught and the worker
	// returns, exit code 0 (3.11 _process_worker); otherwise the error
	// ends the worker, exit code 1 (3.11 multiprocessing.pool.worker).
	InitReturns bool
	// Ack: once a task is decoded, and before it runs, the worker writes
	// an acknowledgement (the job and its pid) to the result pipe
	// (billiard's Worker.workloop: `put((ACK, (job, i, now(), pid, ...)))`).
	Ack bool
	// IgnoreSIGINT: the worker ignores SIGINT, so a Ctrl-C is the parent's
	// alone (Pool(initializer=signal.signal(SIGINT, SIG_IGN)), the usual
	// advice); otherwise SIGINT raises KeyboardInterrupt wherever the
	// worker is.
	IgnoreSIGINT bool
	// HoldsQueueEnds: the worker holds both ends of its task and result
	// pipes, as a ProcessPoolExecutor worker holds the call queue and the
	// result queue whole (3.11 _process_worker closes neither end, and
	// both are inherited at fork or pickled whole for spawn). It never
	// uses the extra ends; they only keep the task pipe from ever reading
	// end-of-file while the worker lives, and the result pipe writable,
	// once the parent is gone.
	HoldsQueueEnds bool
	// RetireExit is the exit code of a worker that leaves its loop after
	// its maxtasks (billiard's Worker.workloop returns EX_RECYCLE, 155;
	// billiard_retire.go); 0 for CPython's.
	RetireExit int
	// StampTakes: the worker records in its slot when (shm.Now) it read
	// each task frame whole, and when it left a point's wait, so that the
	// parent's task deadline runs from the worker's own events (tracked).
	StampTakes bool
	// Loop, if set, is the strategy's own worker loop, run instead of
	// CPython's (pebble's worker_process); the flags above then do not
	// apply.
	Loop func(w *worker) error
}

// An Option is a strategy-specific pool option.
type Option string

const (
	OptionRetries       Option = "Retries"       // Options.Retries
	OptionRestartBudget Option = "RestartBudget" // Options.RestartBudget
	OptionTaskTimeout   Option = "TaskTimeout"   // Options.TaskTimeout
	// OptionLostWorkerTimeout: Options.LostWorkerTimeout (billiard).
	OptionLostWorkerTimeout Option = "LostWorkerTimeout"
	// OptionRecover: Options.Recover (loky's reusable executor).
	OptionRecover     Option = "Recover"
	OptionLockTimeout Option = "LockTimeout" // Options.LockTimeout
	// OptionChunkSize: Map takes Pool.map's chunksize ([ChunkMapper]).
	OptionChunkSize Option = "chunksize"
)

var registry struct {
	sync.RWMutex
	defs map[Strategy]*Definition
}

// Define registers a strategy. Call it from an init function, so that a
// re-executed worker knows its strategy. It panics on a definition
// without a name, a start function or a unique name, as a programming
// error.
func Define(d Definition) {
	registry.Lock()
	defer registry.Unlock()
	if d.Name == "" || d.Start == nil {
		panic(fmt.Sprintf("pools: Define(%q): a strategy needs a name and a Start function", d.Name))
	}
	if registry.defs == nil {
		registry.defs = map[Strategy]*Definition{}
	}
	if _, dup := registry.defs[d.Name]; dup {
		panic("pools: strategy defined twice: " + string(d.Name))
	}
	registry.defs[d.Name] = &d
}

// Lookup returns the definition of strategy s.
func Lookup(s Strategy) (Definition, error) {
	d, ok := lookup(s)
	if !ok {
		return Definition{}, fmt.Errorf("unknown pool strategy %q (allowed: %s)", s, strategyList())
	}
	return *d, nil
}

func lookup(s Strategy) (*Definition, bool) {
	registry.RLock()
	defer registry.RUnlock()
	d, ok := registry.defs[s]
	return d, ok
}

// Strategies lists every strategy, in the order of the result matrix.
func Strategies() []Strategy {
	registry.RLock()
	defs := make([]*Definition, 0, len(registry.defs))
	for _, d := range registry.defs {
		defs = append(defs, d)
	}
	registry.RUnlock()
	sort.Slice(defs, func(i, j int) bool {
		if defs[i].Order != defs[j].Order {
			return defs[i].Order < defs[j].Order
		}
		return defs[i].Name < defs[j].Name
	})
	out := make([]Strategy, len(defs))
	for i, d := range defs {
		out[i] = d.Name
	}
	return out
}

// ParseStrategy returns the strategy named s.
func ParseStrategy(s string) (Strategy, error) {
	if _, err := Lookup(Strategy(s)); err != nil {
		return "", err
	}
	return Strategy(s), nil
}

func strategyList() string { return joinStrategies(Strategies()) }

func joinStrategies(ss []Strategy) string {
	b := make([]string, len(ss))
	for i, s := range ss {
		b[i] = string(s)
	}
	return strings.Join(b, ", ")
}

// Follows names the system the strategy models, with the CPython version
// whose source it follows where versions differ (see the README).
func (s Strategy) Follows() string {
	if d, ok := lookup(s); ok {
		return d.Follows
	}
	return "unknown"
}

// SharedQueues reports whether the strategy's workers share one task pipe
// and one result pipe, guarded by process-shared locks.
func (s Strategy) SharedQueues() bool {
	d, ok := lookup(s)
	return ok && d.SharedQueues
}

// InterruptibleWaits reports whether a SIGINT to the parent ends the
// caller's blocking wait with KeyboardInterrupt (see
// [Definition.InterruptibleWaits]).
func (s Strategy) InterruptibleWaits() bool {
	d, ok := lookup(s)
	return ok && d.InterruptibleWaits
}

// IdleUnlocked says why the strategy's idle workers hold no lock while
// they wait for a task, or "" if they do (or there is no lock).
func (s Strategy) IdleUnlocked() string {
	if d, ok := lookup(s); ok {
		return d.IdleUnlocked
	}
	return ""
}

// Supports reports whether the strategy takes option o.
func (s Strategy) Supports(o Option) bool {
	d, ok := lookup(s)
	if !ok {
		return false
	}
	for _, x := range d.Options {
		if x == o {
			return true
		}
	}
	return false
}

// StrategiesWith lists the strategies that take option o.
func StrategiesWith(o Option) []Strategy {
	var out []Strategy
	for _, s := range Strategies() {
		if s.Supports(o) {
			out = append(out, s)
		}
	}
	return out
}

// startAs adapts a strategy's own start function to Definition.Start, so
// that a failed start is a nil Pool, never a typed nil in an interface.
func startAs[P Pool](start func(Options) (P, error)) func(Options) (Pool, error) {
	return func(o Options) (Pool, error) {
		p, err := start(o)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}
