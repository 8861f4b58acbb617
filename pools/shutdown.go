package pools

import "context"

// Shutdown follows ProcessPoolExecutor.shutdown (3.11): under the
// shutdown lock set _cancel_pending_futures and _shutdown_thread and wake
// the manager; with wait, join the manager thread
// (self._executor_manager_thread.join()). The manager does the rest when
// it next wakes: flag_executor_shutting_down cancels what is not running,
// and once nothing is pending join_executor_internals sends a sentinel per
// worker and joins them. A manager blocked elsewhere (in recv on a torn
// frame) never wakes for it, so neither the cancel nor the join happens.
func (p *failFast) Shutdown(ctx context.Context, o ShutdownOptions) error {
	p.mu.Lock()
	p.closing = true
	if o.CancelFutures && p.broken == nil {
		p.cancelReq = true
	}
	p.reg.Bump()
	p.mu.Unlock()
	notify(p.wake)
	if !o.Wait {
		return nil
	}
	return p.Join(ctx)
}

// cancelPendingLocked is flag_executor_shutting_down with
// _cancel_pending_futures: every pending future that future.cancel()
// accepts is cancelled, and work_ids_queue is drained. A future refuses
// once it runs, which add_call_item_to_queue makes it as it moves it to
// the call queue; that queue holds at most max_workers +
// EXTRA_QUEUED_CALLS (1) calls no worker has taken yet. This model queues
// deeper (extraQueuedCalls), so it counts as running the jobs its workers
// hold and the first Workers+1 others in flight, in job order, and
// cancels the rest, which 3.11 would still have held back.
func (p *failFast) cancelPendingLocked() {
	p.cancelReq = false
	held := map[int]bool{}
	for _, pr := range p.procs {
		if _, dead, _ := pr.State(); dead {
			held[int(pr.lastJob)] = true
		} else if j := slotOf(p.reg, pr.idx).Job().Load(); j >= 0 {
			held[int(j)] = true
		}
	}
	notFed := map[int]bool{}
	for _, q := range p.workIDs {
		notFed[q.job] = true
	}
	room := p.opts.Workers + 1 // the call queue's maxsize, 3.11's EXTRA_QUEUED_CALLS = 1
	for _, job := range p.pendingLocked() {
		switch {
		case held[job]:
		case !notFed[job] && room > 0:
			room--
		default:
			if !notFed[job] {
				p.inFlight--
			}
			p.resolveLocked(job, Result{Err: ErrCancelled})
		}
	}
	p.workIDs = nil
	p.reg.Bump()
}

// Shutdown is the tracked design's shutdown: with CancelFutures, the jobs
// not yet assigned to a worker are cancelled; then Close, and with Wait,
// Join. Nothing in it waits on a worker that cannot be answered: a
// death fails its jobs and a task past its deadline is killed.
func (p *tracked) Shutdown(ctx context.Context, o ShutdownOptions) error {
	if o.CancelFutures {
		p.mu.Lock()
		for _, q := range p.queue {
			p.resolveLocked(q.job, Result{Err: ErrCancelled})
		}
		p.queue = nil
		p.reg.Bump()
		p.mu.Unlock()
	}
	p.Close()
	if !o.Wait {
		return nil
	}
	return p.Join(ctx)
}

// CallTerminate is the tracked design's terminate(): its Terminate, which
// takes no lock a worker could die holding (there is none), kills every
// worker and fails every pending job with ErrTerminated.
func (p *tracked) CallTerminate(context.Context) error { return p.Terminate() }
