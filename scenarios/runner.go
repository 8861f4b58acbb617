package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// RunOptions tune a run.
type RunOptions struct {
	// Backstop bounds a run that neither ends nor is proven to hang; the
	// verdict is then HangTimeout. Default 20s.
	Backstop time.Duration
	// Stderr receives the workers' standard error; nil discards it.
	Stderr *os.File
}

// pollEvery is how often the runner looks at the pool while it waits. It
// sets how soon a verdict comes, never which: a hang is proven from a
// snapshot, and a snapshot seen twice unchanged.
const pollEvery = 250 * time.Microsecond

// Run runs the scenario with default options.
func Run(ctx context.Context, sc Scenario) (Outcome, error) {
	return RunWith(ctx, sc, RunOptions{})
}

// RunWith starts the scenario's pool, makes its faults happen, waits the
// way the scenario says, and returns the verdict with its evidence. Then
// it tears everything down: every worker killed and reaped, every
// goroutine of the pool ended.
func RunWith(ctx context.Context, sc Scenario, o RunOptions) (Outcome, error) {
	if err := sc.Validate(); err != nil {
		return Outcome{}, err
	}
	if sc.Real() {
		return Outcome{}, fmt.Errorf("scenario: %s is a real Python pool: run it with RunReal (poolhang run does)", sc.Pool)
	}
	if sc.killsParent() {
		return runParentKilled(ctx, sc)
	}
	if o.Backstop <= 0 {
		o.Backstop = 20 * time.Second
	}
	// The backstop follows the deadline: every stuck task in a row must
	// get its deadline before the backstop can call the run a timeout.
	if need := sc.Deadline*time.Duration(len(sc.Faults)+1) + 2*time.Second; sc.Deadline > 0 && o.Backstop < need {
		o.Backstop = need
	}
	start := time.Now()
	po := pools.Options{Workers: sc.Workers, Stderr: o.Stderr, TaskTimeout: sc.Deadline,
		LostWorkerTimeout: modelGrace(sc.Pool),
		// Workers allocate no more for a task frame than this scenario
		// sends: its payload, its triggers and the function's name, times
		// the calls a map's chunk carries in one frame.
		MaxTaskFrame: sc.maxTaskFrame()}
	sc.lifecycleOptions(&po)
	p, err := startPool(sc, po)
	if err != nil {
		return Outcome{}, err
	}
	r := &run{sc: sc, p: p, pids: map[int]bool{}, struck: map[int]bool{}, idle: map[int]bool{}}
	if sc.Payload > 0 {
		r.payload = pools.Payload(sc.Payload)
	}
	out := Outcome{Scenario: sc}
	deadline := time.NewTimer(o.Backstop)
	defer deadline.Stop()

	final, proof, verdict, err := r.drive(ctx, deadline.C, &out)
	r.finish(&out, final, proof, verdict)
	r.teardown(&out)
	out.Wall = time.Since(start)
	return out, err
}

type run struct {
	sc     Scenario
	p      pools.Pool
	pids   map[int]bool // every worker seen, to check reaping
	struck map[int]bool // faults (by index) that have struck
	idle   map[int]bool // pids of the workers idle faults struck
	notes  []string     // faults that could not strike
	caller chan callerResult
	stop   func()
	// interrupt ends the caller's wait with KeyboardInterrupt: the
	// parent's side of a Ctrl-C, where the pool's waits are interruptible.
	interrupt func()
	result    *callerResult
	// payload is every echo task's argument and expected value: one
	// allocation, however many jobs.
	payload []byte
	// endPhase is where the caller of an ending style (terminate,
	// shutdown) is; giveUp ends its bounded get (see callThenEnd).
	endPhase atomic.Int32
	giveUp   context.CancelFunc
	// cont: the workers sigstop-cont faults stopped and the runner
	// continued (sigstopcont.go).
	cont continued
	// interrupted lists the workers a Ctrl-C will end: alive when it
	// struck, in a pool whose workers do not ignore SIGINT.
	interrupted []int
}

// maxTaskFrame is the largest task frame body the scenario sends. A map
// on naive or respawn sends a chunk of calls per frame (Pool.map's
// chunksize): a limit of one call's size made every worker refuse a
// chunk of large payloads and exit, and respawn replace it, forever.
func (sc Scenario) maxTaskFrame() int {
	chunk := 1
	if sc.Wait == WaitMap || sc.imap() {
		chunk = max(sc.ChunkSize, pools.DefaultChunkSize(sc.Jobs, sc.Workers), 1)
	}
	return min(chunk*(sc.Payload+taskOverhead), 1<<30)
}

// taskOverhead bounds a task body beyond its argument: the triggers
// (MaxFaults of 11 bytes and a count), the function's name and two
// lengths.
const taskOverhead = 1024

type callerResult struct {
	results []pools.Result
	err     error
}

func (r *run) snapshot() pools.Snapshot {
	s := r.p.Snapshot()
	for _, w := range s.Parties {
		if w.Role == pools.RoleWorker {
			r.pids[w.PID] = true
		}
	}
	return s
}

// drive runs the scenario up to its verdict.
func (r *run) drive(ctx context.Context, backstop <-chan time.Time, out *Outcome) (pools.Snapshot, Proof, Verdict, error) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	wait := func() error {
		select {
		case <-tick.C:
			return nil
		case <-backstop:
			return errBackstop
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for i, f := range r.sc.Faults {
		if f.Job < 0 && !atStart(f) {
			if err := r.strikeIdle(i, f, wait); err != nil {
				return r.timedOut(err)
			}
		}
	}
	if err := r.settleAcks(wait); err != nil {
		return r.timedOut(err)
	}
	tasks, err := r.tasks()
	if err != nil {
		return r.snapshot(), Proof{}, HangTimeout, err
	}
	callCtx, cancel := context.WithCancelCause(context.Background())
	r.stop = func() { cancel(nil) }
	r.interrupt = func() { cancel(errInterrupted) }
	r.caller = make(chan callerResult, 1)
	go func() { r.caller <- r.call(callCtx, tasks) }()
	return r.watch(wait, out)
}

// timedOut ends a run whose wait failed: the backstop expired (no proof
// either way) or ctx ended (an error).
func (r *run) timedOut(err error) (pools.Snapshot, Proof, Verdict, error) {
	if errors.Is(err, errBackstop) {
		err = nil
	}
	return r.snapshot(), Proof{}, HangTimeout, err
}

// watch polls the pool until the caller is answered or a hang is proven
// on two consistent snapshots with no transition between them, striking
// the faults that wait for a signal on the way.
func (r *run) watch(wait func() error, out *Outcome) (pools.Snapshot, Proof, Verdict, error) {
	var last, candidate, livelockCandidate pools.Snapshot
	haveCandidate, haveLivelock := false, false
	lastChange := time.Now()
	for {
		select {
		case cr := <-r.caller:
			r.result = &cr
			out.ToVerdict = time.Since(lastChange)
			return r.snapshot(), Proof{}, r.answered(cr), nil
		default:
		}
		if err := wait(); err != nil {
			return r.timedOut(err)
		}
		s := r.snapshot()
		now := time.Now()
		if s.Progress != last.Progress {
			lastChange = now
		}
		last = s
		r.strikeSignals(s)
		if !s.Consistent {
			haveCandidate = false
			continue
		}
		pr := prove(s)
		if !pr.Hang {
			haveCandidate = false
			if lv := proveLivelock(s); lv.Hang {
				if haveLivelock && sameJobs(livelockCandidate, s) {
					out.ToVerdict = now.Sub(lastChange)
					return s, lv, Livelock, nil
				}
				livelockCandidate, haveLivelock = s, true
			} else {
				haveLivelock = false
			}
			continue
		}
		haveLivelock = false
		if haveCandidate && candidate.Progress == s.Progress && sameDead(candidate, s) {
			if !quiescent(s) || !r.interruptsLanded(s) {
				candidate = s
				continue
			}
			if r.continueStopped(s) {
				haveCandidate = false
				continue
			}
			if r.settle() {
				haveCandidate = false
				continue
			}
			out.ToVerdict = now.Sub(lastChange)
			return s, pr, Hang, nil
		}
		candidate, haveCandidate = s, true
	}
}

var errBackstop = errors.New("backstop expired")

// answered turns the caller's answer into a verdict.
func (r *run) answered(cr callerResult) Verdict {
	for i, res := range cr.results {
		if res.Err == nil && !r.correct(i, res.Value) {
			return Raised
		}
		if res.Err != nil {
			return Raised
		}
	}
	return Completed
}

func (r *run) correct(job int, v []byte) bool {
	if want, ok := r.sc.valueOf(job); ok {
		return bytes.Equal(v, want)
	}
	if r.sc.Payload > 0 {
		return bytes.Equal(v, r.payload)
	}
	n, err := pools.Int(v)
	return err == nil && n == int64(job)*int64(job)
}

// tasks builds the jobs with each job fault's trigger hidden inside.
func (r *run) tasks() ([]pools.Task, error) {
	ts := make([]pools.Task, r.sc.Jobs)
	for i := range ts {
		if r.sc.Payload > 0 {
			ts[i] = pools.Task{Func: "echo", Arg: r.payload} // read only: shared
		} else {
			ts[i] = pools.Square(int64(i))
		}
	}
	for _, f := range r.sc.Faults {
		if f.Job < 0 || f.Phase == faults.Callback || f.Phase == faults.Input {
			continue // idle faults strike a worker; the caller's phases are its own code (callstyles.go)
		}
		k, err := faults.Lookup(f.Kind)
		if err != nil {
			return nil, err
		}
		ts[f.Job].Triggers = append(ts[f.Job].Triggers, k.Trigger(f.Phase))
	}
	return ts, nil
}

// errUnresolved marks a job the caller never got an answer for.
var errUnresolved = errors.New("unresolved")

// errInterrupted is what the caller's call raised when a Ctrl-C ended its
// wait: every job it had not yet delivered carries it.
var errInterrupted = fmt.Errorf("%w raised to the caller: the Ctrl-C ended its wait", &pools.KeyboardInterrupt{})

// interrupted reports whether the caller's wait was ended by a Ctrl-C.
func interrupted(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errInterrupted)
}

// call waits the scenario's way. Jobs without an answer when it returns
// carry the error errUnresolved.
func (r *run) call(ctx context.Context, tasks []pools.Task) callerResult {
	if r.sc.Wait.Ends() {
		res := r.callThenEnd(ctx, tasks)
		if interrupted(ctx) {
			// A Ctrl-C raised KeyboardInterrupt in the caller's bounded
			// get: what it had not received, it never will.
			for i := range res.results {
				if res.results[i].Err == errUnresolved {
					res.results[i].Err = errInterrupted
				}
			}
		}
		return res
	}
	switch r.sc.Wait {
	case WaitCallback:
		return r.callCallbacks(ctx, tasks)
	case WaitIMap, WaitIMapUnordered:
		return r.callIMap(ctx, tasks)
	case WaitMap:
		return r.callMap(ctx, tasks)
	}
	return r.callSubmit(ctx, tasks)
}

// callMap is wait=map: one map (with chunks where the pool has them).
func (r *run) callMap(ctx context.Context, tasks []pools.Task) callerResult {
	var rs []pools.Result
	var err error
	if cm, ok := r.p.(pools.ChunkMapper); ok && r.sc.ChunkSize > 0 {
		rs, err = cm.MapChunks(ctx, tasks, r.sc.ChunkSize)
	} else {
		rs, err = r.p.Map(ctx, tasks)
	}
	for i := range rs {
		switch {
		case interrupted(ctx):
			// The Ctrl-C came while job 2 was out: map raised
			// KeyboardInterrupt and delivered nothing.
			rs[i].Err = errInterrupted
		case err != nil && rs[i].Err == err:
			rs[i].Err = errUnresolved
		}
	}
	return callerResult{rs, err}
}

// callSubmit is wait=get and wait=join: a submit per job, join()
// first for wait=join, then get() of each result in order.
func (r *run) callSubmit(ctx context.Context, tasks []pools.Task) callerResult {
	rs := make([]pools.Result, len(tasks))
	fs := make([]*pools.Future, len(tasks))
	for i, t := range tasks {
		f, err := r.p.Submit(ctx, t)
		if err != nil {
			rs[i] = pools.Result{Err: err}
			continue
		}
		fs[i] = f
	}
	var err error
	if r.sc.Wait == WaitJoin {
		r.p.Close()
		err = r.p.Join(ctx)
	}
	// Then get() each result: join can return with jobs never answered
	// (2.6, once the result handler has died), and the caller wants them.
	if err == nil && interrupted(ctx) {
		err = errInterrupted
	}
	waiting := 0 // the job whose wait raised, if one did
	for i, f := range fs {
		if f == nil || err != nil {
			continue
		}
		waiting = i
		if _, err = f.Wait(ctx); err == nil && interrupted(ctx) {
			// Its result came as the Ctrl-C did: the KeyboardInterrupt
			// is raised at the next wait.
			waiting, err = i+1, errInterrupted
		}
	}
	for i, f := range fs {
		if f == nil {
			continue
		}
		if err != nil && i >= waiting && interrupted(ctx) {
			rs[i] = pools.Result{Err: errInterrupted}
			continue
		}
		if res, ok := f.Result(); ok {
			rs[i] = res
		} else {
			rs[i] = pools.Result{Err: errUnresolved}
		}
	}
	return callerResult{rs, err}
}

// strikeSignals sends each signal fault's signal to the worker that
// stopped at its point holding its job.
func (r *run) strikeSignals(s pools.Snapshot) {
	for i, f := range r.sc.Faults {
		if f.Job < 0 || r.struck[i] {
			continue
		}
		k, _ := faults.Lookup(f.Kind)
		if k.Signal == 0 {
			continue
		}
		at := k.Trigger(f.Phase).At
		for _, w := range s.Parties {
			if w.Role != pools.RoleWorker || w.Exit != nil || w.Stop != at || w.Job != f.Job {
				continue
			}
			if !k.Group {
				r.p.Signal(w.PID, k.Signal)
				r.struck[i] = true
				continue
			}
			// A Ctrl-C, once the other workers have settled, so that what
			// it finds them doing is the same from run to run.
			if !settled(s, w.PID) {
				break
			}
			// The caller's wait ends with KeyboardInterrupt where it is
			// interruptible: the parent's main thread gets it as the
			// workers get theirs, before any of them can answer job 2.
			if r.sc.Pool.InterruptibleWaits() {
				r.interrupt()
			}
			// Then every worker at once.
			r.interrupted = interruptible(r.sc.Pool, s, w.PID)
			if err := r.p.SignalGroup(k.Signal); err != nil {
				r.notes = append(r.notes, fmt.Sprintf("fault %s did not strike: %v", f, err))
			}
			r.struck[i] = true
			break
		}
	}
}

// strikeIdle waits until every live worker is idle (and, with shared
// queues, one of them holds the read lock), strikes the fault's target and
// waits until it is dead and the pool is quiescent again.
func (r *run) strikeIdle(i int, f Fault, wait func() error) error {
	k, err := faults.Lookup(f.Kind)
	if err != nil {
		return err
	}
	var target int
	for {
		// Once the pool has done all it can (an earlier idle fault's
		// death handled: failfast breaks and ends every worker), so that
		// the target is the same from run to run, and alive when struck.
		s := r.snapshot()
		if s.Consistent && quiescent(s) {
			pid, ready, none := idleTarget(s, f.Phase)
			if none != "" {
				r.notes = append(r.notes, fmt.Sprintf("fault %s did not strike: %s", f, none))
				return nil
			}
			if ready {
				target = pid
				break
			}
		}
		if err := wait(); err != nil {
			return err
		}
	}
	if err := k.StrikeIdle(r.p, target); err != nil {
		return fmt.Errorf("fault %s: %w", f, err)
	}
	r.struck[i], r.idle[target] = true, true
	// Then until the pool has done all it can with that (a fail-fast
	// manager has seen the sentinel and broken the pool, a respawning
	// one has its replacement waiting): the call must find the same
	// pool from run to run, and under load a map sent the moment the
	// worker was seen dead could finish on the other worker before the
	// manager's turn came.
	for {
		s := r.snapshot()
		if w, ok := s.Worker(target); ok && (w.Exit != nil || isStopped(w)) && s.Consistent && quiescent(s) {
			return nil
		}
		if err := wait(); err != nil {
			return err
		}
	}
}

// idleTarget picks the worker an idle fault strikes: the holder of the
// task read lock, or the first idle worker (by slot) that does not hold it. It
// reports whether the pool is settled enough to strike, and why no target
// can exist, if so.
func idleTarget(s pools.Snapshot, ph faults.Phase) (pid int, ready bool, none string) {
	var live []pools.Party
	for _, w := range s.Parties {
		if w.Role == pools.RoleWorker && w.Exit == nil {
			live = append(live, w)
		}
	}
	if len(live) == 0 {
		return 0, false, "no live worker is left"
	}
	for _, w := range live {
		if !w.Idle || w.Wait == nil {
			return 0, false, "" // someone is still starting or busy
		}
	}
	holder := 0
	if len(s.Locks) > 0 && s.Strategy.IdleUnlocked() == "" {
		holder = s.Locks[0].Holder
		if holder == 0 {
			return 0, false, ""
		}
		if h, ok := s.Worker(holder); ok && h.Exit != nil && ph == faults.IdleLockHolder {
			return 0, false, fmt.Sprintf("the read lock's holder, %s, is already dead", workerName(h))
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].Slot < live[j].Slot })
	for _, w := range live {
		if (ph == faults.IdleLockHolder) == (w.PID == holder) {
			return w.PID, true, ""
		}
	}
	return 0, false, "no live idle worker fits " + string(ph)
}

// settled reports whether, on a consistent snapshot, every live worker but
// target is blocked: none is starting (a forked Python worker has its
// SIGINT handler from birth, ours once it runs), running, or about to.
func settled(s pools.Snapshot, target int) bool {
	if !s.Consistent {
		return false
	}
	for _, w := range s.Parties {
		if w.Role != pools.RoleWorker || w.Exit != nil || w.PID == target {
			continue
		}
		if w.Starting || !blocked(w) {
			return false
		}
	}
	return true
}

// isStopped reports whether the kernel shows w stopped (state T) where
// it stopped itself.
func isStopped(w pools.Party) bool {
	return w.Exit == nil && w.Wait != nil && w.Wait.Kind == pools.WaitStopped && !w.Wait.Ready
}

func sameDead(a, b pools.Snapshot) bool {
	dead := func(s pools.Snapshot) string {
		var ids []string
		for _, p := range s.Parties {
			if p.Exit != nil || p.Done {
				ids = append(ids, p.ID)
			}
		}
		return strings.Join(ids, ",")
	}
	return dead(a) == dead(b)
}

// finish fills the outcome from the final snapshot and the caller's answer.
func (r *run) finish(out *Outcome, s pools.Snapshot, pr Proof, v Verdict) {
	out.Verdict = v
	out.Stuck = pr.Stuck
	out.Final, out.Proof = s, pr
	for _, w := range s.Parties {
		if w.Role != pools.RoleWorker {
			continue
		}
		f := WorkerFate{PID: w.PID, Slot: w.Slot, Zombie: w.Zombie, Alive: w.Exit == nil, State: w.State, Job: w.Job, Proc: procState(w.PID)}
		if d := waitDetail(s, w.Wait); d != "" {
			f.State += " (" + d + ")"
		}
		if w.Exit != nil {
			f.Exit = w.Exit.String()
		}
		out.Workers = append(out.Workers, f)
	}
	// The caller gives up only now: a proven hang cannot change meanwhile.
	if r.result == nil && r.stop != nil {
		r.stop()
		cr := <-r.caller
		r.result = &cr
	}
	for i := 0; i < r.sc.Jobs; i++ {
		j := JobOutcome{Job: i, State: JobUnresolved}
		if r.result != nil && i < len(r.result.results) {
			res := r.result.results[i]
			switch {
			case errors.Is(res.Err, errUnresolved), errors.Is(res.Err, context.Canceled):
			case errors.Is(res.Err, pools.ErrMapCancelled):
				j.State, j.Error = JobCancelled, res.Err.Error()
			case errors.Is(res.Err, pools.ErrNotDelivered):
				j.State, j.Error = JobNotDelivered, res.Err.Error()
			case res.Err != nil:
				j.State, j.Kind, j.Error = JobError, Classify(res.Err), res.Err.Error()
			case !r.correct(i, res.Value):
				j.State, j.Kind, j.Error = JobError, ErrKindWrongValue, fmt.Sprintf("wrong value: %x", res.Value)
			default:
				j.State = JobOK
			}
		}
		out.Jobs = append(out.Jobs, j)
	}
	out.Evidence = evidence(s)
	if v == Hang {
		out.Causes, out.Diagnosis, out.Summary = diagnoseHang(s, pr)
	} else if v == Livelock {
		out.Causes, out.Diagnosis, out.Summary = diagnoseLivelock(s, pr)
	} else {
		k := struck{jobs: map[int]faults.Phase{}, pids: r.idle}
		for _, f := range r.sc.Faults {
			// A Ctrl-C answers the caller at once where its wait is
			// interruptible: how the workers end afterwards races that
			// answer, so it is left out of the summary (the account has it).
			if kd, _ := faults.Lookup(f.Kind); f.Job >= 0 && !kd.Group {
				k.jobs[f.Job] = f.Phase
			}
		}
		out.Diagnosis, out.Summary = diagnoseAnswer(*out, s, k)
	}
	r.notes = append(r.notes, r.contNotes(s, v)...)
	for _, n := range r.notes {
		out.Diagnosis += "; " + n
		out.Summary += "; " + n
	}
	if n := chunkNote(*out); n != "" {
		out.Diagnosis += "; " + n
		out.Summary += "; " + n
	}
}

// teardown ends everything the run started, from any state, and records
// anything it failed to end.
func (r *run) teardown(out *Outcome) {
	if r.stop != nil {
		r.stop()
	}
	if r.result == nil && r.caller != nil {
		<-r.caller
	}
	r.p.Terminate()
	for pid := range r.pids {
		if isChild(pid) {
			out.Leftovers = append(out.Leftovers, fmt.Sprintf("worker %d was not reaped", pid))
		}
	}
	sort.Strings(out.Leftovers)
}

// isChild reports whether pid is still a child of this process, alive or
// a zombie. It never reaps: the pid may by now belong to another child.
func isChild(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err != unix.ECHILD
}

// procState reads the kernel's state letter for pid, as ps shows it.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "gone"
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return "?"
	}
	return string(b[i+2])
}

// interruptible lists the live workers of s that a SIGINT ends, but the
// one at the fault's point (where the pool may catch its
// KeyboardInterrupt): every other, since none catches it where it waits
// (pools/interrupt.go onSIGINT), unless the pool's workers ignore SIGINT
// (pebble, tracked).
func interruptible(p pools.Strategy, s pools.Snapshot, at int) []int {
	if d, err := pools.Lookup(p); err != nil || d.Worker.IgnoreSIGINT {
		return nil
	}
	var out []int
	for _, w := range s.Parties {
		if w.Role == pools.RoleWorker && w.Exit == nil && w.PID != at {
			out = append(out, w.PID)
		}
	}
	return out
}

// interruptsLanded reports whether every worker a Ctrl-C will end has
// ended, or is stopped (its SIGINT lands once a SIGCONT comes). A signal
// on its way is a move the snapshot cannot show: a worker blocked in a
// read looks blocked until its KeyboardInterrupt ends it, later the more
// loaded the machine.
func (r *run) interruptsLanded(s pools.Snapshot) bool {
	for _, pid := range r.interrupted {
		for _, w := range s.Parties {
			if w.Role == pools.RoleWorker && w.PID == pid && w.Exit == nil && !isStopped(w) {
				return false
			}
		}
	}
	return true
}
