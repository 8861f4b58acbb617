package pools

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/poolhang/poolhang/pools/internal/frame"
	"github.com/poolhang/poolhang/pools/internal/shm"
)

// MaxWorkers bounds Options.Workers.
const MaxWorkers = 64

// Options configure a pool.
type Options struct {
	// Workers is the number of worker processes, 1 to MaxWorkers.
	Workers int
	// Stderr receives the workers' standard error; nil discards it.
	Stderr *os.File
	// Orphanable: the workers do not die with the parent process
	// (no PR_SET_PDEATHSIG), as CPython's do not. Only for a parent that
	// runs under a subreaper which ends its orphans (the parent-killed
	// fault's harness); otherwise a killed parent leaves its workers.
	Orphanable bool
	// StartTrigger, if its Action is set, runs in each of the pool's
	// first Workers workers once started, before its first task (at
	// PointWorkerStart): a worker-start fault, such as a lock inherited
	// held at fork. Workers started later (replacements) do not run it:
	// the start it models has passed.
	StartTrigger Trigger

	// The rest are strategy-specific (see [Option]): Start refuses one
	// set for a strategy that does not take it.

	// Retries is how many times a job lost with its worker runs again on
	// another worker, for tasks declared idempotent (Task.Idempotent).
	Retries int
	// RestartBudget is how many worker replacements the pool allows
	// before it fails fast with ErrRestartBudget; 0 means 4*Workers+8.
	RestartBudget int
	// TaskTimeout, if positive, is how long a task may run: past it its
	// worker is killed and the job fails with context.DeadlineExceeded.
	TaskTimeout time.Duration
	// LostWorkerTimeout is billiard's grace before a job acknowledged by
	// a worker that died fails with WorkerLost (lost_worker_timeout,
	// LOST_WORKER_TIMEOUT); 0 means billiard's 10 s.
	LostWorkerTimeout time.Duration
	// Recover: once the pool has broken, Reuse starts a fresh one in its
	// place, as loky's get_reusable_executor does.
	Recover bool

	// MaxTasks, if positive, is how many tasks a worker runs before it
	// retires and is replaced (Pool's maxtasksperchild, 3.11
	// ProcessPoolExecutor's max_tasks_per_child): [OptionMaxTasks].
	MaxTasks int
	// InitFails: the pool's initializer raises in every worker it starts
	// ([OptionInitializer]).
	InitFails bool

	// LockTimeout, if positive, is how long a worker (and the parent
	// stopping a worker) waits for a channel mutex before giving up
	// (pebble's LOCK_TIMEOUT, [PebbleLockTimeout]); 0 waits forever.
	LockTimeout time.Duration

	// MaxTaskFrame, if positive, is the largest task frame body a worker
	// will allocate (default 1 GiB): set it to what the caller can send.
	MaxTaskFrame int
}

// A Pool runs tasks on worker processes: what a program calls, and what a
// harness inspects.
type Pool interface {
	User
	Inspector
}

// User is what a program using a pool calls.
type User interface {
	// Strategy names the pool's design.
	Strategy() Strategy
	// Submit queues a task and returns its future (apply_async). If ctx
	// has ended before the job is admitted, it returns ctx's error and
	// nothing is queued; once admitted, the job runs whatever becomes of
	// ctx (wait for it with [Future.Wait] and a context of its own).
	Submit(ctx context.Context, t Task) (*Future, error)
	// Map submits every task and waits for all of them, in order. Each
	// Result carries that job's value or error; the error is ctx's if ctx
	// ended first, with the unresolved jobs' Err set to it. The naive and
	// respawn pools follow multiprocessing.Pool.map (see [ChunkMapper]):
	// default chunks, and a failed map gives every job its first error.
	// FailFast follows ProcessPoolExecutor.map (chunksize 1), Tracked
	// sends each task alone.
	Map(ctx context.Context, ts []Task) ([]Result, error)
	// Close stops accepting tasks; workers exit once the work is done.
	Close() error
	// Join waits for the pool's goroutines to finish and reaps every
	// worker, after Close or Terminate. It returns ctx's error if ctx
	// ends first; the pool then goes on as it was.
	Join(ctx context.Context) error
	// Terminate kills every worker, reaps it, fails every pending job with
	// ErrTerminated and ends every goroutine. It works from any state and
	// does not block on the pool's own locks.
	Terminate() error
}

// Inspector is what a harness asks of a pool: what every party is doing,
// and faults delivered from outside.
type Inspector interface {
	// Snapshot reports what every party is doing, for a harness.
	Snapshot() Snapshot
	// Interrupt asks live worker pid to run the action of t now, at
	// whatever point it is (PointIdle). It returns once the request is
	// posted.
	Interrupt(pid int, t Trigger) error
	// Signal sends sig to live worker pid of this pool, through the
	// pool's own process handle (a pidfd), so that a pid reused by
	// another process is never hit.
	Signal(pid int, sig syscall.Signal) error
	// SignalGroup sends sig to the pool's process group, every live
	// worker at once, as a terminal sends Ctrl-C to its foreground job.
	// The harness is never in that group.
	SignalGroup(sig syscall.Signal) error
}

// Start starts a pool of the given strategy.
func Start(s Strategy, o Options) (Pool, error) {
	if o.Workers < 1 || o.Workers > MaxWorkers {
		return nil, fmt.Errorf("pools: Workers = %d, want 1 to %d", o.Workers, MaxWorkers)
	}
	if o.MaxTaskFrame < 0 || o.MaxTaskFrame > frame.MaxBody {
		return nil, fmt.Errorf("pools: MaxTaskFrame = %d, want 0 (default) to %d", o.MaxTaskFrame, frame.MaxBody)
	}
	if o.Retries < 0 || o.RestartBudget < 0 || o.TaskTimeout < 0 || o.MaxTasks < 0 || o.LostWorkerTimeout < 0 || o.LockTimeout < 0 {
		return nil, fmt.Errorf("pools: Retries = %d, RestartBudget = %d, TaskTimeout = %s, MaxTasks = %d, LostWorkerTimeout = %s, LockTimeout = %s: none may be negative",
			o.Retries, o.RestartBudget, o.TaskTimeout, o.MaxTasks, o.LostWorkerTimeout, o.LockTimeout)
	}
	d, err := Lookup(s)
	if err != nil {
		return nil, err
	}
	for _, opt := range o.set() {
		if !s.Supports(opt) {
			return nil, fmt.Errorf("pools: Options.%s is set, but the %s pool does not take it (strategies that do: %s)",
				opt, s, joinStrategies(StrategiesWith(opt)))
		}
	}
	return d.Start(o)
}

// set lists the strategy-specific options o sets.
func (o Options) set() []Option {
	var out []Option
	if o.Retries != 0 {
		out = append(out, OptionRetries)
	}
	if o.RestartBudget != 0 {
		out = append(out, OptionRestartBudget)
	}
	if o.TaskTimeout != 0 {
		out = append(out, OptionTaskTimeout)
	}
	if o.LostWorkerTimeout != 0 {
		out = append(out, OptionLostWorkerTimeout)
	}
	if o.Recover {
		out = append(out, OptionRecover)
	}
	if o.LockTimeout != 0 {
		out = append(out, OptionLockTimeout)
	}
	return append(out, o.lifecycleSet()...)
}

// A Future is one job's pending result.
type Future struct {
	job  int
	c    *core
	done chan struct{}
	res  Result
	// group is the map the job belongs to (Pool.map's MapResult); nil for
	// a job submitted alone (an ApplyResult).
	group *mapGroup
	// it is the imap the job belongs to, if any, and itIdx its task
	// index there (imap.go).
	it    *IMapIterator
	itIdx int
	// The callback (callback.go); cbRan and cbErr under core.mu.
	cb    Callback
	cbRan bool
	cbErr error
	// billiard only, under core.mu: the call's index (billiard's job id)
	// and the pid that acknowledged the job (0: none yet).
	call, ackedBy int
}

// Job is the job id, in submission order from 0.
func (f *Future) Job() int { return f.job }

// Done is closed once the job is resolved.
func (f *Future) Done() <-chan struct{} { return f.done }

// Result returns the job's result and whether it is resolved yet.
func (f *Future) Result() (Result, bool) {
	select {
	case <-f.done:
		return f.res, true
	default:
		return Result{}, false
	}
}

// Wait waits for the job's result (AsyncResult.get), or for ctx to end.
func (f *Future) Wait(ctx context.Context) (Result, error) {
	if r, ok := f.Result(); ok {
		return r, nil
	}
	w := f.c.enterWait(waitSpec{kind: WaitJobResult, what: fmt.Sprintf("the result of job %d", f.job),
		job: func() int { return f.job }, releasers: f.c.resolverIDs, ready: f.isDone})
	defer f.c.leaveWait(w)
	select {
	case <-f.done:
		return f.res, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

func (f *Future) isDone() bool { return isClosed(f.done) }

// isClosed reports whether ch is closed (or, for a channel that carries
// values, has one ready).
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// core is what every strategy shares: the shared region, the processes,
// the cache of pending jobs, and the parties' states for snapshots.
type core struct {
	strategy Strategy
	opts     Options
	reg      *shm.Region
	exe      string
	devnull  *os.File
	stderr   *os.File
	secret   string // the workers' handshake (see MaybeServeWorker)
	// startTrig is Options.StartTrigger resolved; firstLeft counts the
	// first workers still to be started, which run it.
	startTrig []trig
	firstLeft atomic.Int32
	// cacheEmptied, if set, is called under mu when the last pending job
	// is resolved (3.x's _PoolCache notifies the worker handler then).
	cacheEmptied func()
	// callbacks is where the strategy runs a job's callback (callback.go).
	callbacks callbackMode

	slotMu   sync.Mutex
	slotUsed [shm.MaxSlots]bool

	watch sync.WaitGroup // watchProc goroutines
	gs    sync.WaitGroup // the strategy's goroutines
	died  chan struct{}  // a worker ended (capacity 1)

	mu      sync.Mutex
	nextJob int
	cache   map[int]*Future
	// abandoned: jobs answered by their map's first error before their
	// own chunk's result (2.6's MapResult._set), so nothing waits for them.
	abandoned map[int]bool
	procs     []*proc // live workers and, for the record, dead ones
	started   int     // workers recorded so far (the last one's Party.Slot)
	parties   map[string]*gstate
	order     []string
	callers   []*callerWait
	ncall     int
	// resolverIDs names the parties that resolve futures.
	resolverIDs func() []string
	// dropped: pending jobs the pool lost by itself, with how (billiard).
	dropped     map[int]string
	released    bool
	releaseOnce sync.Once
	termOnce    sync.Once

	group procGroup // the workers' process group
}

// terminateOnce runs end once, unless the pool was joined already (then
// nothing is left to end), and frees what the core holds after it: the
// prologue and epilogue of every Terminate.
func (c *core) terminateOnce(end func()) error {
	c.mu.Lock()
	released := c.released
	c.mu.Unlock()
	if released {
		// A Join's release may still be closing what the core holds
		// (released is set before): wait for it to end.
		c.release()
		return nil
	}
	c.termOnce.Do(func() {
		end()
		c.gs.Wait()
		c.release()
	})
	return nil
}

// gstate is one parent goroutine's (or caller's) state.
type gstate struct {
	role  Role
	state string
	wait  *waitSpec
	done  bool
	died  bool
}

type waitSpec struct {
	kind      WaitKind
	what      string
	job       func() int // the job waited on; nil: none
	lock      string     // the lock waited for (WaitLock)
	holder    func() int // its holder's pid
	releasers func() []string
	ready     func() bool
	detail    func() string
	torn      func() bool
}

type callerWait struct {
	id   string
	spec waitSpec
}

func newCore(s Strategy, o Options) (*core, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("pools: find own executable: %w", err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	reg, err := shm.New()
	if err != nil {
		devnull.Close()
		return nil, err
	}
	secret, err := reg.Handshake(o.MaxTaskFrame)
	if err != nil {
		reg.Close()
		devnull.Close()
		return nil, err
	}
	reg.SetLifecycle(o.MaxTasks, o.InitFails)
	c := &core{
		strategy: s, opts: o, reg: reg, exe: exe, devnull: devnull, stderr: o.Stderr, secret: secret,
		died: make(chan struct{}, 1), cache: map[int]*Future{}, abandoned: map[int]bool{}, dropped: map[int]string{}, parties: map[string]*gstate{},
	}
	if c.stderr == nil {
		c.stderr = devnull
	}
	if o.StartTrigger.Action != "" {
		t := o.StartTrigger
		t.At = PointWorkerStart
		if c.startTrig, err = resolve([]Trigger{t}); err != nil {
			c.release()
			return nil, err
		}
		c.firstLeft.Store(int32(o.Workers))
	}
	return c, nil
}

func (c *core) Strategy() Strategy { return c.strategy }

// admit is every Submit: resolve the task's triggers, ask refuse (under
// c.mu) whether the pool takes work, register the job in the cache and
// hand it to enqueue, still under c.mu.
func (c *core) admit(ctx context.Context, t Task, refuse func() error, enqueue func(queued)) (*Future, error) {
	ts, err := resolve(t.Triggers)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := refuse(); err != nil {
		return nil, err
	}
	f := c.newFutureLocked()
	f.cb = t.callback
	if t.it != nil {
		t.it.addLocked([]*Future{f})
	}
	enqueue(queued{job: f.job, t: wireTask{Trigs: ts, Fn: t.Func, Arg: t.Arg}, idempotent: t.Idempotent})
	return f, nil
}

// newFuture registers a pending job in the cache. c.mu must be held.
func (c *core) newFutureLocked() *Future {
	f := &Future{job: c.nextJob, c: c, done: make(chan struct{})}
	c.nextJob++
	c.cache[f.job] = f
	c.reg.Bump()
	return f
}

// resolve sets a job's result and drops it from the cache (ApplyResult._set).
// It reports whether the job was pending. c.mu must be held.
func (c *core) resolveLocked(job int, r Result) bool {
	f, ok := c.cache[job]
	if !ok {
		return false
	}
	delete(c.cache, job)
	f.res = c.callbackOnResolveLocked(f, r)
	close(f.done)
	if f.it != nil {
		f.it.resolvedLocked(f)
	}
	c.reg.Bump()
	if len(c.cache) == 0 && c.cacheEmptied != nil {
		c.cacheEmptied()
	}
	return true
}

// failAllLocked resolves every pending job with err.
func (c *core) failAllLocked(err error) {
	for job := range c.cache {
		c.resolveLocked(job, Result{Err: err})
	}
}

// setG records what parent goroutine name is doing; wait is nil when it is
// running. It bumps the progress count.
func (c *core) setG(name, state string, wait *waitSpec) {
	c.mu.Lock()
	c.setGLocked(name, state, wait)
	c.mu.Unlock()
}

// startG records that parent goroutine name, playing role, is starting.
func (c *core) startG(name string, role Role) {
	c.mu.Lock()
	c.startGLocked(name, role)
	c.mu.Unlock()
}

func (c *core) startGLocked(name string, role Role) {
	c.setGLocked(name, "starting", nil)
	c.parties[name].role = role
}

func (c *core) setGLocked(name, state string, wait *waitSpec) {
	g, ok := c.parties[name]
	if !ok {
		g = &gstate{}
		c.parties[name] = g
		c.order = append(c.order, name)
	}
	g.state, g.wait, g.done, g.died = state, wait, false, false
	c.reg.Bump()
}

func (c *core) doneG(name, state string) { c.endG(name, state, false) }

// dieG records that goroutine name ended on an uncaught error.
func (c *core) dieG(name, state string) { c.endG(name, state, true) }

func (c *core) endG(name, state string, died bool) {
	c.mu.Lock()
	if g, ok := c.parties[name]; ok {
		g.state, g.wait, g.done, g.died = state, nil, true, died
	}
	c.reg.Bump()
	c.mu.Unlock()
}

// endGLockedDone records that goroutine name returned. c.mu must be held.
func (c *core) endGLockedDone(name, state string) {
	if g, ok := c.parties[name]; ok {
		g.state, g.wait, g.done = state, nil, true
	}
	c.reg.Bump()
}

// dropGLocked forgets a finished goroutine, so a crash loop does not grow
// the record. c.mu must be held.
func (c *core) dropGLocked(name string) {
	delete(c.parties, name)
	for i, n := range c.order {
		if n == name {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
	c.reg.Bump()
}

func (c *core) enterWait(spec waitSpec) *callerWait {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ncall++
	id := "caller"
	if c.ncall > 1 {
		id = fmt.Sprintf("caller %d", c.ncall)
	}
	w := &callerWait{id: id, spec: spec}
	c.callers = append(c.callers, w)
	c.reg.Bump()
	return w
}

func (c *core) leaveWait(w *callerWait) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.callers {
		if x == w {
			c.callers = append(c.callers[:i], c.callers[i+1:]...)
			break
		}
	}
	if len(c.callers) == 0 {
		c.ncall = 0
	}
	c.reg.Bump()
}

// mapWait submits ts through submit and waits for every job in order.
func (c *core) mapWait(ctx context.Context, ts []Task, submit func(context.Context, Task) (*Future, error)) ([]Result, error) {
	fs := make([]*Future, len(ts))
	out := make([]Result, len(ts))
	var refused error
	for i, t := range ts {
		f, err := submit(ctx, t)
		if err != nil {
			for j := i; j < len(ts); j++ {
				out[j] = Result{Err: err}
			}
			ts, refused = ts[:i], err
			break
		}
		fs[i] = f
	}
	err := c.waitAll(ctx, fs[:len(ts)], out)
	if err == nil && refused != nil && refused == ctx.Err() {
		err = refused // ctx ended before every job was admitted
	}
	return out, err
}

// waitAll waits for every job of fs in order, as the caller of one map,
// and fills out with their results.
func (c *core) waitAll(ctx context.Context, fs []*Future, out []Result) error {
	_, err := c.waitInOrder(ctx, fs, out, false)
	return err
}

// waitInOrder waits for the jobs of fs in order, as the caller of one
// map, and fills out with their results. With stopAtError it returns at
// the first job in order that failed, as Executor.map's result_iterator
// does, and reports its index in fs (else -1): out is filled up to it,
// and the jobs after it are not waited for. If ctx ends first, out holds
// whatever the pool has resolved.
func (c *core) waitInOrder(ctx context.Context, fs []*Future, out []Result, stopAtError bool) (failed int, err error) {
	// next is the job the caller waits for: the first one not resolved,
	// or -1 once the caller has its answer. (f.res is written before
	// f.done is closed, so it may be read once isDone.)
	next := func() int {
		for _, f := range fs {
			if !f.isDone() {
				return f.job
			}
			if stopAtError && f.res.Err != nil {
				return -1
			}
		}
		return -1
	}
	what := fmt.Sprintf("the results of a map of %d jobs", len(fs))
	if stopAtError {
		what = fmt.Sprintf("the results of a map of %d jobs, in order, up to the first failed one", len(fs))
	}
	w := c.enterWait(waitSpec{kind: WaitJobResult, what: what,
		job: next, releasers: c.resolverIDs, ready: func() bool { return next() < 0 }})
	defer c.leaveWait(w)
	failed = -1
	for i, f := range fs {
		if err == nil {
			select {
			case <-f.done:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		r, ok := f.Result()
		if !ok {
			r = Result{Err: err}
		}
		out[i] = r
		if stopAtError && err == nil && r.Err != nil {
			return i, nil
		}
	}
	return failed, err
}

// waitG waits, as the caller, for parent goroutine name to finish; ch is
// closed once it has.
func (c *core) waitG(ctx context.Context, name string, ch <-chan struct{}) error {
	return c.waitDone(ctx, "the "+name+" to finish", func() []string { return []string{name} }, ch, func() bool {
		g, ok := c.parties[name]
		return ok && g.done
	})
}

// waitDone waits for ch with the caller recorded as waiting for what.
// ready must tell from recorded state (with c.mu held) that ch is about
// to close, so a snapshot never sees the caller stuck on a finished party.
func (c *core) waitDone(ctx context.Context, what string, releasers func() []string, ch <-chan struct{}, ready func() bool) error {
	if isClosed(ch) {
		return nil
	}
	w := c.enterWait(waitSpec{kind: WaitGoroutine, what: what, releasers: releasers, ready: func() bool {
		return isClosed(ch) || ready()
	}})
	defer c.leaveWait(w)
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sharedPipes makes the task and result pipes all workers share, counted
// in the region's header, and the spawn function that hands them out.
func (c *core) sharedPipes(taskName, resName string) (task, res *pipe, pipes func(slot) (*pipe, *pipe, error), err error) {
	cnt := c.reg.SharedCounters()
	if task, err = newPipe(taskName, false, true, cnt.TaskW, cnt.TaskR, c.reg.Bump); err != nil {
		return nil, nil, nil, err
	}
	if res, err = newPipe(resName, true, false, cnt.ResW, cnt.ResR, c.reg.Bump); err != nil {
		task.close()
		return nil, nil, nil, err
	}
	return task, res, func(slot) (*pipe, *pipe, error) { return task, res, nil }, nil
}

// sharedQueues are the pipes every worker of a shared-queue pool uses:
// the parent writes tasks and workers read them under the task read
// lock; workers write results under the result write lock and the parent
// reads them.
type sharedQueues struct {
	tasks, results *pipe
	reader         *frame.Reader // the parent's reader of results
	pipes          func(slot) (*pipe, *pipe, error)
}

func (q *sharedQueues) closePipes() {
	q.tasks.close()
	q.results.close()
}

// startShared makes the shared pipes and starts the pool's workers on
// them. If any step fails it undoes the others (kills and reaps the
// workers started, closes the pipes, frees the core) and returns the error.
func (c *core) startShared(taskName, resName string) (sharedQueues, error) {
	var q sharedQueues
	var err error
	if q.tasks, q.results, q.pipes, err = c.sharedPipes(taskName, resName); err != nil {
		c.release()
		return q, err
	}
	for range c.opts.Workers {
		pr, err := c.spawn(q.pipes)
		if err != nil {
			c.killAll()
			q.closePipes()
			c.release()
			return sharedQueues{}, err
		}
		c.addProc(pr)
	}
	q.reader = c.resultReader(q.results)
	return q, nil
}

// resultReader reads frames from p in the parent.
func (c *core) resultReader(p *pipe) *frame.Reader {
	return frame.NewReader(p.r, new(atomic.Int64), new(atomic.Int64), p.read, c.reg.Bump)
}

// joinWorkers reaps every worker in order, waiting for each to exit
// (2.6 Pool.join: `for p in self._pool: p.join()`).
func (c *core) joinWorkers(ctx context.Context) error {
	c.mu.Lock()
	ps := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	for _, pr := range ps {
		id := workerID(pr.PID)
		dead := func() bool { _, d, _ := pr.State(); return d }
		if err := c.waitDone(ctx, id+" to exit", func() []string { return []string{id} }, pr.Exited(), dead); err != nil {
			return err
		}
		c.reap(pr)
	}
	return nil
}

// joinRest ends a Join once the pool's goroutines are told to finish:
// reap every worker, wait for every goroutine, free what the pool holds.
func (c *core) joinRest(ctx context.Context, closePipes func()) error {
	if err := c.joinWorkers(ctx); err != nil {
		return err
	}
	c.gs.Wait()
	if closePipes != nil {
		closePipes()
	}
	c.release()
	return nil
}

// addProc records a started worker.
func (c *core) addProc(pr *proc) {
	c.mu.Lock()
	c.addProcLocked(pr)
	c.mu.Unlock()
}

// addProcLocked records a started worker and gives it its place.
func (c *core) addProcLocked(pr *proc) {
	c.started++
	pr.seq = c.started
	c.procs = append(c.procs, pr)
	c.pruneLocked()
}

// pruneLocked forgets the oldest reaped workers beyond a bound, so a crash
// loop does not grow the record without limit.
func (c *core) pruneLocked() {
	const keepDead = 64
	dead := 0
	for _, pr := range c.procs {
		if _, _, reaped := pr.State(); reaped {
			dead++
		}
	}
	if dead <= keepDead {
		return
	}
	kept := c.procs[:0]
	for _, pr := range c.procs {
		if _, _, reaped := pr.State(); reaped && dead > keepDead {
			dead--
			continue
		}
		kept = append(kept, pr)
	}
	c.procs = kept
}

func (c *core) liveProcsLocked() []*proc {
	var out []*proc
	for _, pr := range c.procs {
		if !pr.IsDead() {
			out = append(out, pr)
		}
	}
	return out
}

// liveWorkerIDsLocked names every worker not known to have ended; waitSpec
// functions run with c.mu held and use it.
func (c *core) liveWorkerIDsLocked() []string {
	var ids []string
	for _, pr := range c.liveProcsLocked() {
		ids = append(ids, workerID(pr.PID))
	}
	return ids
}

func workerID(pid int) string { return fmt.Sprintf("worker %d", pid) }

// killAll kills and reaps every worker.
func (c *core) killAll() {
	c.mu.Lock()
	ps := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	for _, pr := range ps {
		if _, _, reaped := pr.State(); !reaped {
			pr.Kill()
		}
	}
	for _, pr := range ps {
		c.reap(pr)
	}
}

// release frees what the core holds, once every goroutine has ended.
func (c *core) release() {
	c.releaseOnce.Do(c.releaseNow)
}

func (c *core) releaseNow() {
	c.watch.Wait()
	c.mu.Lock()
	c.released = true
	c.mu.Unlock()
	c.reg.Close()
	c.devnull.Close()
}

// Signal sends sig to live worker pid through its os.Process.
func (c *core) Signal(pid int, sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pr := range c.liveProcsLocked() {
		if pr.PID == pid {
			return pr.Signal(sig)
		}
	}
	return fmt.Errorf("pools: no live worker with pid %d", pid)
}

// Interrupt posts t to worker pid's mailbox and wakes it.
func (c *core) Interrupt(pid int, t Trigger) error {
	ts, err := resolve([]Trigger{t})
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		return fmt.Errorf("pools: pool has ended")
	}
	for _, pr := range c.liveProcsLocked() {
		if pr.PID == pid {
			slotOf(c.reg, pr.idx).Post(uint32(ts[0].ID), ts[0].Arg)
			return nil
		}
	}
	return fmt.Errorf("pools: no live worker with pid %d", pid)
}

func (c *core) pendingLocked() []int {
	jobs := make([]int, 0, len(c.cache))
	for j := range c.cache {
		jobs = append(jobs, j)
	}
	sort.Ints(jobs)
	return jobs
}
