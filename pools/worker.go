package pools

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

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
	runtime.GOMAXPROCS(1)
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
		tasks:   frame.NewReader(os.NewFile(fdTasks, "tasks"), sl.Have(), sl.Need(), cnt.TaskR, reg.Bump),
		results: os.NewFile(fdResults, "results"),
		resW:    cnt.ResW,
	}
	w.tasks.Max = reg.MaxFrame()
	go w.mailbox()
	loop := w.loop
	if def.Worker.Loop != nil {
		loop = func() error { return def.Worker.Loop(w) }
	}
	err = loop()
	if err == nil {
		// A clean exit; one on an error keeps its job and state in the
		// slot, for whoever asks what the worker died holding.
		w.slot.set(wExiting, -1)
	}
	var x *ExitRequest
	switch {
	case err == nil:
		return 0
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
	tasks   *frame.Reader
	results *os.File
	resW    *atomic.Int64 // the result pipe's written counter
}

func (w *worker) write(b []byte) error {
	n, err := w.results.Write(b)
	w.resW.Add(int64(n))
	w.reg.Bump()
	return err
}

// await marks the slot as stopped at p holding job and blocks this
// goroutine for good, so that a signal sent from outside lands exactly
// here.
func (w *worker) await(p Point, job int) {
	w.slot.SetPoint(uint32(p), int64(job))
	for {
		unix.Pause()
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
	for {
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
		values, ran, err := w.run(job, calls)
		if err != nil && !w.mode.CatchAll && IsExitRequest(err) {
			return err // SystemExit is not an Exception
		}
		r := resultOf(values, err, resultTrigs(ran))
		if err := w.put(job, r); err != nil {
			switch {
			case w.mode.CatchAll, w.mode.SendEncodeError && !IsExitRequest(err):
				r = resultOf(nil, &EncodeError{What: "result", Err: err}, nil)
				if err := w.put(job, r); err != nil {
					return err
				}
			default:
				return err
			}
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
		w.slot.set(wWaitTaskLock, -1)
		w.slot.SetWaitLock(lockTaskRead)
		w.reg.Lock(lockTaskRead).Acquire(w.pid)
		w.slot.ClearWaitLock()
	}
	w.slot.set(wReadTask, -1)
	f, err := w.tasks.Next(nil)
	if errors.Is(err, ErrAllocation) && w.mode.GuardDecode {
		// Refused, the body is still in the pipe: skip it, or its
		// middle would be read as the next frame (and could forge one).
		if derr := w.tasks.Discard(); derr != nil {
			err = derr
		}
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
