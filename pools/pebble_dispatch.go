package pools

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// The task scheduler's fast path. pebble's task_scheduler_loop sends one
// message per task (WorkerManager.dispatch, pool_channel.send), as fast as
// the pipe takes them, so under a map the task pipe holds many frames at
// once. The model writes runs of queued tasks that carry no trigger in one
// write(2) when the whole run fits in the pipe at once: the bytes in the
// pipe are those of the sends one after the other, and such a write never
// blocks, so no snapshot can find the scheduler part-way through it. A
// task with a trigger, a frame larger than pipeBuf, and a run that does
// not fit go the way they always did, one blocking send per task, so every
// wait a proof can meet is the one it met before.

// pipeBuf is Linux's PIPE_BUF: a non-blocking write of at most this many
// bytes to a pipe writes all of them or fails with EAGAIN, writing none.
const pipeBuf = 4096

// maxRun bounds the tasks the scheduler takes off the queue in one turn.
const maxRun = 64

// runLocked is how many tasks at the head of the task queue the scheduler
// may take in one turn: the first, and the trigger-free plain calls after
// it, if it is one.
func (p *pebblePool) runLocked() int {
	n := 0
	for n < len(p.taskq) && n < maxRun && plainCall(p.taskq[n]) {
		n++
	}
	return max(n, 1)
}

// plainCall reports whether q is one call with no trigger: encoding it
// cannot fail at a point or wait.
func plainCall(q queued) bool {
	return q.chunk == nil && !q.sentinel && q.imap == nil && len(q.t.Trigs) == 0
}

// dispatch encodes and writes the tasks of one turn (PoolManager.schedule,
// once each is registered); false once the scheduler has ended.
func (p *pebblePool) dispatch(qs []queued) bool {
	buf := p.runBuf[:0]
	var jobs []int // jobs whose frames buf holds, and where each starts
	var starts []int
	flush := func() bool {
		defer func() { buf, jobs, starts = buf[:0], jobs[:0], starts[:0] }()
		switch len(jobs) {
		case 0:
			return true
		case 1:
			return p.sendTask(jobs[0], buf)
		}
		p.setG(gScheduler, fmt.Sprintf("writing jobs %d to %d to the task pipe", jobs[0], jobs[len(jobs)-1]), nil)
		ok, err := p.tasks.trySend(buf)
		if err != nil {
			p.doneG(gScheduler, "stopped: OSError writing the task pipe")
			return false
		}
		if ok {
			return true
		}
		for i, job := range jobs { // no room for the whole run: one by one
			end := len(buf)
			if i+1 < len(starts) {
				end = starts[i+1]
			}
			if !p.sendTask(job, buf[starts[i]:end]) {
				return false
			}
		}
		return true
	}
	defer func() { p.runBuf = buf[:0] }()
	for _, q := range qs {
		b, err := encodeQueued(q)
		if err != nil {
			// The tasks before it were sent before it was pickled.
			if !flush() {
				return false
			}
			p.dieG(gScheduler, fmt.Sprintf("died of an uncaught error encoding job %d (not a PicklingError or TypeError): %v", q.job, err))
			return false
		}
		if len(buf)+len(b) > pipeBuf && !flush() {
			return false
		}
		if len(b) > pipeBuf {
			if !p.sendTask(q.job, b) {
				return false
			}
			continue
		}
		jobs, starts = append(jobs, q.job), append(starts, len(buf))
		buf = append(buf, b...)
	}
	return flush()
}

// sendTask is one blocking send of job's frame b; false once the
// scheduler has ended.
func (p *pebblePool) sendTask(job int, b []byte) bool {
	p.setG(gScheduler, fmt.Sprintf("writing job %d to the task pipe", job),
		&waitSpec{kind: WaitPipeRoom, what: "room in the task pipe", releasers: p.liveWorkerIDsLocked, ready: p.tasks.roomFor(len(b))})
	if err := p.tasks.send(b); err != nil {
		p.doneG(gScheduler, "stopped: OSError writing the task pipe")
		return false
	}
	return true
}

// trySend writes b (at most pipeBuf bytes) to the pipe's non-blocking
// write end if it fits at once, and reports whether it did; nothing is
// written when it does not.
func (p *pipe) trySend(b []byte) (bool, error) {
	rc, err := p.w.SyscallConn()
	if err != nil {
		return false, err
	}
	var n int
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		n, werr = unix.Write(int(fd), b)
		return true
	}); err != nil {
		return false, err
	}
	if werr == unix.EAGAIN || werr == unix.EINTR {
		return false, nil
	}
	if n > 0 {
		p.written.Add(int64(n))
		p.bump()
	}
	if werr != nil {
		return false, werr
	}
	if n < len(b) { // not expected of a write of at most PIPE_BUF bytes
		return true, p.send(b[n:])
	}
	return true, nil
}
