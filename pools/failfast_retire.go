package pools

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

// inPoolLocked is len(executor._processes): the workers that have neither
// ended nor sent their exit pid.
func (p *failFast) inPoolLocked() int {
	n := 0
	for _, pr := range p.liveProcsLocked() {
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
