package pools

import (
	"fmt"
	"sync"
)

// pebbleStart is how a pebble pool comes to run. pebble 5.0 makes its
// channels with the pool (WorkerManager.__init__: channels(mp_context)),
// but starts its workers and its three loops only at the first schedule
// or map: BasePool._check_pool_state calls _update_pool_state, which,
// while the state is CREATED, calls ProcessPool._start_pool under
// context.state_mutex (PoolManager.start: create_workers; then the
// task scheduler, pool manager and message manager threads; then
// RUNNING).
//
// The model starts that way when the pool has an initializer
// (Options.InitFails), the one case where it shows: the workers die in
// their initializer before any task, and whether the caller's schedules
// or the pool manager's inspection of those deaths come first decides
// the verdict. pool_manager_loop takes its first turn as it starts, with
// the workers just forked and alive, and its next SLEEP_UNIT (0.1 s)
// later; a caller's schedules take microseconds. So the model's pool
// manager inspects no death between the start and the caller's first
// wait (a get, a map's results, a join): every schedule made before then
// is registered, and, with no task running, the first death it inspects
// raises BrokenProcessPool("All workers expired") in find_expired_task.
// Without an initializer the model starts everything with the pool: its
// idle workers are then what a warmed pebble pool has (the real driver
// warms pebble with a no-op before an idle fault).
type pebbleStart struct {
	startMu sync.Mutex // context.state_mutex
	// Under startMu: _start_pool has run, or the pool was stopped
	// before it did (then it never will).
	begun bool
	// Under core.mu: the pool started at a schedule and the pool
	// manager's next turn has not come (see above).
	lazy bool
}

// startLoops is PoolManager.start's bookkeeping and the three threads
// of _start_pool: the workers already started go into
// WorkerManager.workers, and the loops begin.
func (p *pebblePool) startLoops() {
	p.begun = true
	p.mu.Lock()
	for _, pr := range p.procs {
		p.workers[pr.PID] = pr
	}
	p.mu.Unlock()
	p.startG(gScheduler, RoleTaskHandler)
	p.startG(gMessages, RoleResultHandler)
	p.startG(gPoolMgr, RoleWorkerHandler)
	p.gs.Add(3)
	go p.schedule()
	go p.messages()
	go p.manage()
}

// createLazy makes the channels only: the pool is CREATED.
func (p *pebblePool) createLazy() error {
	var err error
	if p.tasks, p.results, p.pipes, err = p.sharedPipes("task pipe", "result pipe"); err != nil {
		p.release()
		return err
	}
	p.reader = p.resultReader(p.results)
	p.lazy = true
	return nil
}

// startAtSchedule is _update_pool_state's `if state == CREATED:
// self._start_pool()`, for a schedule on a pool neither closed, stopped
// nor in ERROR (those raise in _check_pool_state, which submit follows).
// It returns the error of a worker that could not be started:
// WorkerManager.new_worker raises BrokenProcessPool, which escapes
// _start_pool.
func (p *pebblePool) startAtSchedule() error {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	if p.begun {
		return nil
	}
	p.mu.Lock()
	created := !p.closing && !p.stopping && p.broken == nil
	p.mu.Unlock()
	if !created {
		return nil
	}
	p.begun = true
	for range p.opts.Workers {
		pr, err := p.spawn(p.pipes)
		if err != nil {
			// No loop starts: the workers started so far are killed
			// with the pool (Terminate's killAll).
			p.mu.Lock()
			p.enterErrorLocked("BrokenProcessPool from WorkerManager.new_worker: " + err.Error())
			p.mu.Unlock()
			p.stopManager()
			close(p.managerDone)
			return fmt.Errorf("%w: %v", ErrPebbleError, err)
		}
		p.addProc(pr)
	}
	p.startLoops()
	return nil
}

// neverStarted marks a pool stopped before its first schedule: no loop
// will start, so there is none to wait for (_stop_pool skips the loops
// that are None).
func (p *pebblePool) neverStarted() bool {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	if p.begun {
		return false
	}
	p.begun = true
	p.stopManager()
	close(p.managerDone)
	return true
}

// beforeFirstTurnLocked reports whether the pool manager's next turn
// after a start at a schedule has yet to come: the pool started lazily
// and no caller has waited since, or a worker is still in its start or
// initializer. That turn is a SLEEP_UNIT (0.1 s) after the start, by
// when a worker whose initializer raises has long died: its
// inspect_workers sees every such death at once, and joins them all.
func (p *pebblePool) beforeFirstTurnLocked() bool {
	return p.lazy && (len(p.callers) == 0 || p.workerStartingLocked())
}

// workerStartingLocked reports whether a live worker has yet to finish
// its start and initializer.
func (p *pebblePool) workerStartingLocked() bool {
	for _, pr := range p.workers {
		if pr.IsDead() {
			continue
		}
		switch slotOf(p.reg, pr.idx).state() {
		case wStarting, wInit:
			return true
		}
	}
	return false
}
