package pools

import (
	"context"
	"syscall"
	"time"
)

// CallTerminate is how a program ends a pebble pool at once: stop() then
// join() (pebble 5.0, pebble/pool/base_pool.py and process.py):
//
//  1. BasePool.stop: context.state = STOPPED (the state setter keeps
//     ERROR: it changes the state only `if self.alive`);
//  2. BasePool.join on a pool neither RUNNING nor CLOSED:
//     task_queue.put(None), then ProcessPool._stop_pool;
//  3. _stop_pool joins pool_manager_loop, which ends at its next turn
//     (`while context.alive`), unless update_status is blocked in it
//     (stop_worker waits for the channel lock of a task past its
//     timeout, up to LOCK_TIMEOUT);
//  4. PoolManager.stop: WorkerManager.close_channels closes the parent's
//     channel ends, so a worker polling for a task reads end of file and
//     exits 0 (worker_process: `except EOFError: os._exit(0)`); then
//     stop_workers calls stop_worker(force=True) for every worker in
//     WorkerManager.workers, which takes no lock: stop_process, SIGTERM,
//     join(3), SIGKILL if still alive;
//  5. it joins the task scheduler (the None ends its loop) and the
//     message manager, which ends once context.alive is false, or, in
//     recv on a torn frame, at the end of file once no writer is left.
//
// Nothing in it sets a pending future: a job unanswered when join()
// returns stays pending for good (the caller's record says terminated),
// unlike the harness's Terminate, which fails them all.
func (p *pebblePool) CallTerminate(ctx context.Context) error {
	p.mu.Lock()
	if p.released {
		p.mu.Unlock()
		return nil
	}
	p.closing = true
	p.stopping = true
	p.reg.Bump()
	p.mu.Unlock()
	p.wakeManager()
	if p.neverStarted() {
		p.closePipes()
		return p.joinRest(ctx, nil)
	}
	if err := p.waitG(ctx, gPoolMgr, p.managerDone); err != nil {
		return err
	}
	p.stopManager() // the scheduler's task_queue.put(None)
	p.closePipes()
	p.stopWorkers()
	return p.joinRest(ctx, nil)
}

// pebbleStopJoin is stop_process's process.join(3) between its SIGTERM
// and its SIGKILL.
const pebbleStopJoin = 3 * time.Second

// stopWorkers is WorkerManager.stop_workers: stop_process on every
// worker WorkerManager.workers holds. A worker has no SIGTERM handler,
// so only a stopped one (SIGSTOP) outlives the join and gets SIGKILL;
// each is stopped in turn, as stop_workers' loop does.
func (p *pebblePool) stopWorkers() {
	p.mu.Lock()
	ps := make([]*proc, 0, len(p.workers))
	for _, pr := range p.workers {
		ps = append(ps, pr)
	}
	p.workers = map[int]*proc{}
	p.mu.Unlock()
	for _, pr := range ps {
		pr.Signal(syscall.SIGTERM)
		join := time.NewTimer(pebbleStopJoin)
		select {
		case <-pr.Exited():
		case <-join.C:
			pr.Kill()
		}
		join.Stop()
	}
}
