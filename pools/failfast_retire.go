package pools

import "context"

// Workers that retire under max_tasks_per_child, as CPython 3.11's
// ProcessPoolExecutor does it (Lib/concurrent/futures/process.py):
//
//   - _process_worker counts its tasks and sends its pid with the last
//     result (_ResultItem.exit_pid), then returns;
//   - the manager (_ExecutorManagerThread.run) pops and joins that
//     process, then calls executor._adjust_process_count(); after any
//     other result it releases executor._idle_worker_semaphore;
//   - _adjust_process_count takes a token of that semaphore if it can
//     ("there's an idle process, we don't need to spawn a new one") and
//     only otherwise spawns a process, if fewer than max_workers are in
//     the pool; submit() calls it too, since 3.11 allows
//     max_tasks_per_child only with a start method other than fork, and
//     those spawn on demand.
//
// The semaphore counts results, not idle workers: a token released by a
// result can outlive the worker, and a retirement that takes it leaves
// the pool without a replacement. With every worker retired that way and
// jobs still queued, nothing ever runs them: python/cpython issue 115634,
// present from 3.11 (where max_tasks_per_child came in) to its fix in
// 3.13/3.14 (gh-140900, which replaces a retired worker whenever the pool
// is below max_workers). This model follows 3.11, so it has the bug.
//
// The model starts its workers at once, as the fork start method does;
// on demand, 3.11 spawns them at the first submits instead. The tokens
// come out the same: a submit that finds no token spawns while the pool
// is short, and finds the pool full here.

// adjustOnSubmitLocked is submit()'s _adjust_process_count, under
// max_tasks_per_child. core.mu must be held.
func (p *failFast) adjustOnSubmitLocked() {
	if p.opts.MaxTasks == 0 || p.broken != nil {
		return
	}
	if p.adjustLocked() {
		p.spawnLocked()
	}
}

// afterResultLocked is the manager's step after process_result_item: a
// retiring worker's pid is taken (its end is no abrupt death) and the
// pool adjusted; any other result releases a token. It reports whether
// a replacement is due. core.mu must be held.
func (p *failFast) afterResultLocked(r wireResult) bool {
	if p.opts.MaxTasks == 0 {
		return false
	}
	if r.ExitPID != 0 {
		p.exiting[int(r.ExitPID)] = true
		p.reg.Bump()
		return p.adjustLocked()
	}
	p.idleTokens++ // executor._idle_worker_semaphore.release()
	p.reg.Bump()
	return false
}

// adjustLocked is _adjust_process_count's decision: take a token if there
// is one, else spawn if the pool is short. It reports whether to spawn.
func (p *failFast) adjustLocked() bool {
	if p.idleTokens > 0 {
		p.idleTokens--
		p.reg.Bump()
		return false
	}
	return p.inPoolLocked() < p.opts.Workers
}

// inPoolLocked is len(executor._processes): the workers whose exit pid
// the manager has not taken. A worker that has ended before the manager
// took its exit pid still counts, as in CPython, where only the manager's
// `self.processes.pop(result_item.exit_pid)` takes it out; counting only
// running workers let a submit that came after a retirement, and before
// the manager took it, spawn where 3.11 does not.
func (p *failFast) inPoolLocked() int {
	n := 0
	for _, pr := range p.procs {
		if !p.exiting[pr.PID] {
			n++
		}
	}
	return n
}

// replaceRetired spawns a process for the manager (_spawn_process).
func (p *failFast) replaceRetired() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spawnLocked()
}

// spawnLocked starts a worker on the shared pipes, unless the pool has
// stopped. core.mu must be held. A worker that fails to start is not
// retried: the pool stays short, as a failed _spawn_process leaves it.
func (p *failFast) spawnLocked() {
	if p.stopped() || p.broken != nil {
		return
	}
	pr, err := p.spawn(p.pipes)
	if err != nil {
		return
	}
	p.addProcLocked(pr)
}

// mapSubmit is the submit that Map calls once per job of a map of n
// jobs. Under max_tasks_per_child it holds the manager, at a named
// point, until the map's last submit is in (or one is refused): the
// manager takes no result and no death before it. Workers are fed
// meanwhile and may run, answer and retire; their results wait in the
// pipe, in order.
//
// Why: which side of a result a submit falls on decides 115634. Each
// submit's _adjust_process_count takes the token a result released, so
// a submit after a result leaves no stale token and the next retiring
// worker is replaced; the issue needs the submits first. In 3.11 they
// come first: Executor.map submits in a list comprehension (`fs =
// [self.submit(fn, *args) for args in zip(*iterables)]`) before it
// yields, and under max_tasks_per_child the pool spawns (no fork), so
// its first result comes from an interpreter started at the first submit,
// a whole interpreter start (tens of ms) after a loop of a few
// microseconds. CPython does not force that order (the manager thread
// runs beside the caller), but only a caller stalled for as long as an
// interpreter start would see the other one. This model's workers are
// already running and answer in microseconds, so without the hold a
// caller descheduled under load let a result in between two submits,
// and the same cell raised instead of hanging. The hold keeps CPython's
// order and changes no token: the tokens, the retirements and
// _adjust_process_count run as they do in CPython, after the submits.
//
// Without max_tasks_per_child there is no semaphore to race for, and
// Map submits as it always did.
func (p *failFast) mapSubmit(n int) func(context.Context, Task) (*Future, error) {
	if p.opts.MaxTasks == 0 || n == 0 {
		return p.Submit
	}
	p.mu.Lock()
	p.holding++
	p.reg.Bump()
	p.mu.Unlock()
	left := n
	return func(ctx context.Context, t Task) (*Future, error) {
		f, err := p.Submit(ctx, t)
		if left--; err != nil || left == 0 {
			p.mu.Lock()
			p.holding--
			p.reg.Bump()
			p.mu.Unlock()
			notify(p.wake)
		}
		return f, err
	}
}
