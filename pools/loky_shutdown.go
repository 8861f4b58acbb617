package pools

import (
	"context"
	"errors"
	"fmt"
)

// ErrShutdownKilled is loky's ShutdownExecutorError: a job still pending
// when shutdown(kill_workers=True) took effect. It is a kind of
// ErrTerminated: the job was never answered, the pool was ended under it.
var ErrShutdownKilled = fmt.Errorf("%w: ShutdownExecutorError: the executor was shut down with kill_workers=True before this job could complete", ErrTerminated)

// Shutdown is shutdown(wait) on the current executor: loky 3.3's
// ProcessPoolExecutor.shutdown(wait=True, kill_workers=False) flags the
// executor as shutting down, wakes the manager and joins it, as 3.11's
// does (flag_executor_shutting_down, then join_executor_internals once
// nothing is pending). It has no cancel_futures (the scenarios refuse
// wait=shutdown-cancel for loky).
func (r *reusable) Shutdown(ctx context.Context, o ShutdownOptions) error {
	if o.CancelFutures {
		return fmt.Errorf("pools: loky 3.3's shutdown(wait, kill_workers) has no cancel_futures: %w", errors.ErrUnsupported)
	}
	return r.current().Shutdown(ctx, o)
}

// CallTerminate is what a program that ends a loky executor at once
// calls: shutdown(wait=True, kill_workers=True) (loky's executor has no
// terminate()).
func (r *reusable) CallTerminate(ctx context.Context) error { return r.current().shutdownKill(ctx) }

// shutdownKill follows loky 3.3's shutdown(wait=True, kill_workers=True):
// _flags.flag_as_shutting_down(kill_workers=True), wake the manager, join
// it. The manager acts when it next wakes (killPlan): a manager blocked
// in recv on a torn frame never does, and the join waits forever.
func (p *failFast) shutdownKill(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	if p.broken == nil {
		p.killReq = true
	}
	p.reg.Bump()
	p.mu.Unlock()
	notify(p.wake)
	return p.Join(ctx)
}

// killWorkersLocked is loky's _ExecutorManagerThread.flag_executor_shutting_down
// with kill_workers set: every pending work item, running or not, gets
// ShutdownExecutorError, and kill_workers SIGKILLs every worker; with
// nothing pending, run() then calls join_executor_internals and returns.
// It is called with core.mu held, releases it, and ends the manager.
func (p *failFast) killWorkersLocked() {
	p.killReq = false
	p.setGLocked(gManager, "shutting down: killing the workers (kill_workers=True)", nil)
	p.failAllLocked(ErrShutdownKilled)
	p.mu.Unlock()
	p.doneG(gManager, "shut down with kill_workers=True: every pending job failed, every worker killed")
	p.stopAll()
}
