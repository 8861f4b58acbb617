package pools

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// CallTerminate is the terminate() a program calls on a
// multiprocessing.Pool: Pool.terminate runs _terminate_pool (3.11 for
// respawn, 2.6 for naive; the steps are the same but for the worker
// handler, which 2.6 lacks):
//
//  1. worker_handler._state = TERMINATE, change_notifier.put(None),
//     task_handler._state = TERMINATE (2.6: taskqueue.put(None)); the task
//     handler then still puts a sentinel on the result queue and one per
//     worker on the task queue (_handle_tasks, after its loop);
//  2. _help_stuff_finish: inqueue._rlock.acquire(), then drain the task
//     queue while the task handler is alive. The read lock is released by
//     whoever holds it; a dead holder never does, and terminate blocks
//     here forever (python/cpython issues 96062, 78178);
//  3. "Cannot have cache with result_hander not alive" (2.6: an assert):
//     a result handler that has ended with jobs pending makes terminate
//     raise AssertionError, with the workers left running;
//  4. result_handler._state = TERMINATE, outqueue.put(None), which takes
//     the result queue's write lock;
//  5. 3.x: worker_handler.join();
//  6. p.terminate() (SIGTERM) for every worker still running;
//  7. task_handler.join(), result_handler.join(), then every worker's
//     join().
//
// billiard 4.1's Pool.terminate runs its own _terminate_pool, the same
// steps but two: it has no assertion (3), and it never joins the worker
// handler (5), whose Supervisor loop ends by itself once the pool's
// _state is TERMINATE; the model joins it all the same, since its
// replacements inherit the pipes, and it waits on nothing a worker holds.
//
// Each wait is recorded as the caller's, so a terminate() that cannot
// return is proven stuck from state. Jobs still pending stay pending, as
// in CPython, which never sets their results.
func (p *queuePool) CallTerminate(ctx context.Context) error {
	giveUp := func() bool { return ctx.Err() != nil || p.terminated() }
	p.mu.Lock()
	if p.released || p.terminated() {
		p.mu.Unlock()
		return nil
	}
	p.state = stateTerminate
	p.putLocked(queued{sentinel: true})
	p.mu.Unlock()
	notify(p.change)

	if err := p.helpStuffFinish(ctx, giveUp); err != nil {
		return err
	}
	p.mu.Lock()
	rh := p.parties[gResult]
	pending := len(p.cache)
	p.mu.Unlock()
	if rh != nil && rh.done && pending > 0 && p.bill == nil {
		return ErrTerminateAssertion
	}
	p.mu.Lock()
	p.rhTerminate = true
	p.reg.Bump()
	p.mu.Unlock()
	notify(p.change)
	if err := p.callerPutResultSentinel(ctx, giveUp); err != nil {
		return err
	}
	if p.respawn {
		if err := p.waitG(ctx, gWorker, p.workerDone); err != nil {
			return err
		}
	}
	p.mu.Lock()
	live := p.liveProcsLocked()
	p.mu.Unlock()
	sigterm := map[*proc]bool{}
	for _, pr := range live {
		if pr.Signal(syscall.SIGTERM) == nil {
			sigterm[pr] = true
		}
	}
	for _, s := range []struct {
		name string
		ch   chan struct{}
	}{{gTask, p.taskDone}, {gResult, p.resultDone}} {
		if err := p.waitG(ctx, s.name, s.ch); err != nil {
			return err
		}
	}
	return p.joinTerminated(ctx, sigterm)
}

// joinTerminated is `for p in pool: p.join()` after p.terminate(): a
// worker sent SIGTERM is as good as dead (a worker has no handler for
// it, so the kernel ends it whatever it waits on), which the caller's
// wait records as ready, so that no proof reads a worker blocked on the
// read lock the caller now holds as stuck. Then free the pool.
func (p *queuePool) joinTerminated(ctx context.Context, sigterm map[*proc]bool) error {
	p.mu.Lock()
	ps := append([]*proc(nil), p.procs...)
	p.mu.Unlock()
	for _, pr := range ps {
		id := workerID(pr.PID)
		ready := func() bool { _, dead, _ := pr.State(); return dead || sigterm[pr] }
		if err := p.waitDone(ctx, id+" to exit", func() []string { return []string{id} }, pr.Exited(), ready); err != nil {
			return err
		}
		p.reap(pr)
	}
	p.gs.Wait()
	p.closePipes()
	p.release()
	return nil
}

// helpStuffFinish is _help_stuff_finish: take the task queue's read lock
// as the caller, for good, then read what is left in the task pipe while
// the task handler runs, so that it is not blocked writing.
func (p *queuePool) helpStuffFinish(ctx context.Context, giveUp func() bool) error {
	lock := p.reg.Lock(lockTaskRead)
	me := os.Getpid()
	w := p.enterWait(waitSpec{
		kind: WaitLock, what: "the " + lockNames[lockTaskRead] + " (terminate: _help_stuff_finish)",
		lock: lockNames[lockTaskRead], holder: lock.Holder,
		releasers: func() []string {
			if h := lock.Holder(); h != 0 && h != me {
				return []string{workerID(h)}
			}
			return nil
		},
		ready:  func() bool { h := lock.Holder(); return h == 0 || h == me },
		detail: func() string { return fmt.Sprintf("held by pid %d", lock.Holder()) },
	})
	ok := lock.AcquireParent(uint32(me), giveUp)
	p.leaveWait(w)
	if !ok {
		return stopErr(ctx)
	}
	for {
		p.mu.Lock()
		g := p.parties[gTask]
		alive := g != nil && !g.done
		p.mu.Unlock()
		n := p.tasks.buffered()
		if !alive || n <= 0 {
			return nil
		}
		if err := p.drainTasks(n); err != nil {
			return nil // the pipe is gone: nothing left to drain
		}
	}
}

// drainTasks reads and drops n bytes buffered in the task pipe (inqueue._reader.recv()).
func (p *queuePool) drainTasks(n int) error {
	buf := make([]byte, min(n, 1<<16))
	for n > 0 {
		k, err := unix.Read(int(p.tasks.r.Fd()), buf[:min(n, len(buf))])
		if err != nil || k <= 0 {
			return fmt.Errorf("pools: draining the task pipe: %v", err)
		}
		p.tasks.read.Add(int64(k))
		p.reg.Bump()
		n -= k
	}
	return nil
}

// callerMayTakeResultLock is the readiness of the caller's wait for the
// result write lock, held by holder (0: free), in process me, while the
// task handler does or does not hold it (taskWrites). Held by this
// process and not by the task handler means the caller has taken it and
// has yet to record so: under load that moment spanned two snapshots
// and proved a hang that was none.
func callerMayTakeResultLock(holder, me int, taskWrites bool) bool {
	return holder == 0 || (holder == me && !taskWrites)
}

// callerPutResultSentinel is _terminate_pool's outqueue.put(None): the
// caller takes the result queue's write lock and writes the result
// handler's sentinel.
func (p *queuePool) callerPutResultSentinel(ctx context.Context, giveUp func() bool) error {
	lock := p.reg.Lock(lockResultWrite)
	me := os.Getpid()
	w := p.enterWait(waitSpec{
		kind: WaitLock, what: "the " + lockNames[lockResultWrite] + " (terminate: outqueue.put(None))",
		lock: lockNames[lockResultWrite], holder: lock.Holder,
		releasers: func() []string {
			if h := lock.Holder(); h != 0 {
				return []string{holderID(h)}
			}
			return nil
		},
		ready:  func() bool { return callerMayTakeResultLock(lock.Holder(), me, p.sentinelWriter.Load() == taskWriter) },
		detail: func() string { return fmt.Sprintf("held by pid %d", lock.Holder()) },
	})
	ok := lock.AcquireParent(uint32(me), giveUp)
	p.leaveWait(w)
	if !ok {
		return stopErr(ctx)
	}
	p.sentinelWriter.Store(callerWriter)
	w = p.enterWait(waitSpec{
		kind: WaitPipeRoom, what: "room in the result pipe", releasers: func() []string { return []string{gResult} },
		ready: func() bool { return p.results.buffered() < p.results.capacity() },
	})
	err := p.results.send(sentinel())
	lock.Release()
	p.sentinelWriter.Store(noWriter)
	p.leaveWait(w)
	if err != nil {
		return fmt.Errorf("pools: terminate: writing the result pipe: %w", err)
	}
	return nil
}

// stopErr is why a wait of the caller's gave up: ctx ended, or the pool
// was torn down under it.
func stopErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrTerminated
}
