package pools

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/poolhang/poolhang/pools/internal/frame"
	"github.com/poolhang/poolhang/pools/internal/shm"
	"golang.org/x/sys/unix"
)

const workerEnv = "POOLHANG_WORKER"

// Inherited descriptors of a worker process.
const (
	fdRegion  = 3
	fdTasks   = 4
	fdResults = 5
)

// MaybeServeWorker turns this process into a pool worker if a pool started
// it as one, and never returns then; otherwise it returns at once. Call it
// first thing in main and in TestMain, after every package's init has
// registered its actions.
//
// The environment variable alone does not make a worker: its secret must
// match the one the parent wrote into the shared region it passes as
// descriptor 3. That is checked by reading (never mapping or writing)
// the descriptor, before anything else; on a mismatch the variable is
// dropped with a warning and the process goes on as itself.
func MaybeServeWorker() {
	serveModes()
	spec, ok := os.LookupEnv(workerEnv)
	if !ok {
		return
	}
	if !provenWorker(spec) {
		os.Unsetenv(workerEnv)
		fmt.Fprintf(os.Stderr, "poolhang: ignoring %s: no pool started this process (its handshake on descriptor %d failed)\n", workerEnv, fdRegion)
		return
	}
	os.Exit(serveWorker(spec))
}

// provenWorker reports whether spec ("STRATEGY SLOT SECRET") carries the
// secret that descriptor 3 holds.
func provenWorker(spec string) bool {
	fields := strings.Fields(spec)
	return len(fields) == 3 && shm.Proven(fdRegion, fields[2])
}

func serveWorker(spec string) int {
	fields := strings.Fields(spec)
	def, ok := lookup(Strategy(fields[0]))
	idx, err := strconv.Atoi(fields[1])
	if !ok || err != nil || idx < 0 || idx >= shm.MaxSlots {
		fmt.Fprintf(os.Stderr, "poolhang worker: bad %s=%q\n", workerEnv, spec)
		return 2
	}
	// Two Ps, though the worker runs one goroutine at a time that
	// matters: its main loop lives in blocking syscalls (pipe reads,
	// futex waits), and with a single P sysmon retakes it at each wait
	// longer than 20 µs and starts a spinning thread to look for work
	// (handoffp), which costs more than a trivial task. An idle second P
	// tells sysmon there is room, so it leaves the wait alone.
	runtime.GOMAXPROCS(2)
	reg, err := shm.Open(os.NewFile(fdRegion, "region"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "poolhang worker:", err)
		return 2
	}
	sl := slotOf(reg, idx)
	cnt := reg.SharedCounters()
	if !def.SharedQueues {
		cnt = sl.Counters() // private pipes
	}
	w := &worker{
		mode:    def.Worker,
		locks:   def.SharedQueues,
		reg:     reg,
		slot:    sl,
		pid:     uint32(os.Getpid()),
		ppid:    os.Getppid(),
		tasks:   frame.NewReader(os.NewFile(fdTasks, "tasks"), sl.Have(), sl.Need(), cnt.TaskR, reg.Bump),
		results: os.NewFile(fdResults, "results"),
		resW:    cnt.ResW,
	}
	w.tasks.Max = reg.MaxFrame()
	w.maxTasks, w.initFails = reg.Lifecycle()
	if def.Worker.StampTakes {
		w.clock = shm.NewClock()
	}
	ignoreSIGINT.Store(def.Worker.IgnoreSIGINT)
	w.sigint.wake = make(chan struct{})
	// Caught before the loop runs, as Python's handler is installed
	// before a worker runs any code: a SIGINT never kills it by default.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT)
	go w.onSIGINT(sigs)
	parentDeath = w.awaitParent
	stopUntilContinued = w.stopCont
	inheritedLock = w.blockInherited
	go w.mailbox()
	err = w.start()
	if err == nil {
		if code := w.initialize(); code >= 0 {
			return code
		}
		loop := w.loop
		if def.Worker.Loop != nil {
			loop = func() error { return def.Worker.Loop(w) }
		}
		err = loop()
	}
	if err == nil {
		// A clean exit; one on an error keeps its job and state in the
		// slot, for whoever asks what the worker died holding.
		w.slot.set(wExiting, -1)
	}
	var x *ExitRequest
	switch {
	case err == nil:
		return w.exitCode
	case errors.As(err, &x):
		return x.Code
	}
	// An uncaught exception: Python prints the traceback and exits 1.
	fmt.Fprintf(os.Stderr, "poolhang worker %d: uncaught error: %v\n", w.pid, err)
	return 1
}

type worker struct {
	mode    WorkerMode
	locks   bool // the strategy's SharedQueues
	reg     *shm.Region
	slot    slot
	pid     uint32
	ppid    int // the parent that started it
	tasks   *frame.Reader
	results *os.File
	resW    *atomic.Int64 // the result pipe's written counter
	// The pool's lifecycle options (shm.Region.Lifecycle).
	maxTasks  int
	initFails bool
	exitCode  int // a clean exit's code: WorkerMode.RetireExit once retired
	sigint    sigintPoint
	clock     shm.Clock // for the stamps of StampTakes
}

func (w *worker) write(b []byte) error {
	n, err := w.results.Write(b)
	w.resW.Add(int64(n))
	w.reg.Bump()
	return err
}

// await marks the slot as stopped at p holding job and blocks this
// goroutine for good, so that a signal sent from outside lands exactly
// here. A stop marked pointStops is the worker's own SIGSTOP, sent once
// the slot says where it stops.
func (w *worker) await(p Point, job int) {
	if p&pointInterrupt != 0 {
		w.awaitInterrupt(p&^pointInterrupt, job)
		return
	}
	w.setPoint(p, job)
	if p&pointStops != 0 {
		unix.Kill(os.Getpid(), unix.SIGSTOP)
	}
	for {
		unix.Pause()
	}
}

// start runs the action the parent put in the slot for this worker's
// start, if any, before its first task.
func (w *worker) start() error {
	id := w.slot.Start().Load()
	if id == 0 {
		return nil
	}
	t := trig{ID: uint16(id), At: uint8(PointWorkerStart), Arg: w.slot.StartArg().Load(), Job: -1}
	return fire([]trig{t}, PointWorkerStart, -1, true, w.await)
}

// blockInherited records that the worker is blocked at start on a lock
// whose word says holder holds it, and waits on that word for good: the
// word is in this process's own memory, and the holder is a thread of
// the parent, so nothing here can ever release it.
func (w *worker) blockInherited(holder int64) {
	w.slot.set(wStartLock, -1)
	word := new(atomic.Uint32)
	word.Store(uint32(holder))
	for {
		// FUTEX_WAIT|FUTEX_PRIVATE_FLAG: a lock of this process alone.
		unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), 0|128, uintptr(word.Load()), 0, 0, 0)
	}
}

// awaitParent marks the slot as stopped at p holding job, waits on a
// pidfd of the parent until it ends, then clears the stop and returns.
// A parent already gone (reparented: getppid is no longer the one the
// worker was started by) returns at once.
func (w *worker) awaitParent(p Point, job int) {
	w.setPoint(p, job)
	defer w.setPoint(0, job)
	fd, err := unix.PidfdOpen(w.ppid, 0)
	if err != nil {
		return // the parent is gone already
	}
	defer unix.Close(fd)
	if unix.Getppid() != w.ppid {
		return
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if n, err := unix.Poll(fds, -1); n > 0 || (err != nil && err != unix.EINTR) {
			return
		}
	}
}

// mailbox runs actions the parent posts through Pool.Interrupt, in
// whatever state the worker's main loop is (idle, in a lock, in a read).
func (w *worker) mailbox() {
	for {
		v, arg := w.slot.TakeMail()
		t := trig{ID: uint16(v), At: uint8(PointIdle), Arg: arg, Job: -1}
		err := fire([]trig{t}, PointIdle, int(w.slot.Job().Load()), true, w.await)
		if x := (*ExitRequest)(nil); errors.As(err, &x) {
			os.Exit(x.Code)
		}
	}
}

// loop follows CPython's worker functions: multiprocessing.pool.worker
// (2.6 and 3.x) and concurrent.futures.process._process_worker.
func (w *worker) loop() error {
	for completed := 0; ; completed++ {
		job, calls, err := w.get()
		if err != nil && w.mode.GuardDecode && job >= 0 {
			if err := w.put(job, resultOf(nil, err, nil)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, ErrTornFrame) || isIOError(err) {
				return nil // `except (EOFError, IOError): break`
			}
			return err
		}
		if job == jobSentinel {
			if w.mode.SayExiting {
				return w.put(jobExiting, wireResult{Value: []byte(strconv.Itoa(int(w.pid)))})
			}
			return nil
		}
		if w.mode.Ack {
			// Worker.workloop: `put((ACK, (job, i, now(), pid, synqW_fd)))`
			// once the task is received, before `fun(*args, **kwargs)`.
			ack := wireResult{Value: []byte(strconv.Itoa(job) + " " + strconv.Itoa(int(w.pid)))}
			if err := w.put(jobAck, ack); err != nil {
				return err
			}
		}
		values, ran, err := w.run(job, calls)
		if err != nil && !w.mode.CatchAll && escapes(err) {
			return err // SystemExit and KeyboardInterrupt are not Exceptions
		}
		r := resultOf(values, err, resultTrigs(ran))
		last := w.retire(completed + 1)
		if last && w.mode.SayExiting {
			r.ExitPID = w.pid // _sendback_result(..., exit_pid=exit_pid)
		}
		if err := w.put(job, r); err != nil {
			switch {
			case w.mode.CatchAll, w.mode.SendEncodeError && !escapes(err):
				r = resultOf(nil, &EncodeError{What: "result", Err: err}, nil)
				if last && w.mode.SayExiting {
					r.ExitPID = w.pid
				}
				if err := w.put(job, r); err != nil {
					return err
				}
			default:
				return err
			}
		}
		if last {
			w.exitCode = w.mode.RetireExit
			return nil
		}
	}
}

func isIOError(err error) bool {
	var errno unix.Errno
	return errors.As(err, &errno) || errors.Is(err, os.ErrClosed)
}

// run runs a task's calls in order, job, job+1, ..., as mapstar does
// (`list(map(func, chunk))`): the first error ends the task, and the
// calls after it never run. It returns the calls that ran.
func (w *worker) run(job int, calls []wireTask) ([][]byte, []wireTask, error) {
	values := make([][]byte, 0, len(calls))
	for k, c := range calls {
		w.slot.set(wRunTask, int64(job+k))
		v, err := runCall(c, job+k, w.await)
		if err != nil {
			return nil, calls[:k+1], err
		}
		values = append(values, v)
	}
	return values, calls, nil
}

// resultTrigs keeps the triggers of the calls that ran which act on the
// way back.
func resultTrigs(calls []wireTask) []trig {
	var out []trig
	for _, c := range calls {
		for _, t := range c.Trigs {
			switch Point(t.At) {
			case PointResultEncode, PointResultWrite, PointResultAlloc, PointResultDecode:
				out = append(out, t)
			}
		}
	}
	return out
}

// get takes the next task off the queue.
func (w *worker) get() (int, []wireTask, error) {
	var t []wireTask
	if w.locks {
		if w.mode.Ack {
			w.letWaiterRead()
		}
		w.slot.set(wWaitTaskLock, -1)
		w.slot.SetWaitLock(lockTaskRead)
		w.reg.Lock(lockTaskRead).Acquire(w.pid)
		w.slot.ClearWaitLock()
		if err := w.interruptedNow(); err != nil {
			w.reg.Lock(lockTaskRead).Release()
			return -1, nil, err
		}
	}
	w.slot.set(wReadTask, -1)
	f, err := w.tasks.Next(nil)
	if kerr := w.interruptedNow(); kerr != nil {
		if w.locks {
			w.reg.Lock(lockTaskRead).Release()
		}
		return -1, nil, kerr
	}
	if errors.Is(err, ErrAllocation) && w.mode.GuardDecode {
		// Refused, the body is still in the pipe: skip it, or its
		// middle would be read as the next frame (and could forge one).
		if derr := w.tasks.Discard(); derr != nil {
			err = derr
		}
	}
	if w.mode.StampTakes && f.Job >= 0 {
		// Its frame is out of the pipe (read or skipped whole; a torn
		// one ends the worker): the take the deadline runs from.
		w.slot.Take(int64(f.Job), w.clock.Now())
	}
	if errors.Is(err, ErrCorruptFrame) {
		f.Job = jobSentinel // out of step for good: no job to answer
	}
	if err == nil && f.Job != jobSentinel && w.mode.DecodeInLock {
		w.slot.set(wDecodeTask, int64(f.Job))
		t, err = decodeTask(f.Job, f.Body, true, w.await)
	}
	if w.locks {
		w.reg.Lock(lockTaskRead).Release()
	}
	if err != nil || f.Job == jobSentinel || w.mode.DecodeInLock {
		return f.Job, t, err
	}
	w.slot.set(wDecodeTask, int64(f.Job))
	t, err = decodeTask(f.Job, f.Body, true, w.await)
	return f.Job, t, err
}

// put encodes and writes a result frame, under the write lock where the
// pool has one. A result-write trigger acts after half the frame is out.
func (w *worker) put(job int, r wireResult) error {
	w.slot.set(wEncodeResult, int64(job))
	b, err := encodeResult(job, r, w.await)
	if err != nil {
		return err
	}
	if w.locks {
		w.slot.set(wWaitResultLock, int64(job))
		w.slot.SetWaitLock(lockResultWrite)
		w.reg.Lock(lockResultWrite).Acquire(w.pid)
		w.slot.ClearWaitLock()
		defer w.reg.Lock(lockResultWrite).Release()
	}
	w.slot.set(wWriteResult, int64(job))
	for _, t := range r.Trigs {
		if Point(t.At) == PointResultWrite {
			half := len(b) / 2
			if err := w.write(b[:half]); err != nil {
				return err
			}
			b = b[half:]
			if err := fire([]trig{t}, PointResultWrite, job, true, w.await); err != nil {
				return err
			}
		}
	}
	return w.write(b)
}
