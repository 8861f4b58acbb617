package pools

import (
	"context"
	"sync"
	"syscall"
)

// Loky follows loky's reusable executor (loky 3.3, shipped in joblib 1.2
// as joblib.externals.loky): the fail-fast pool with Options.Recover. Its
// _ExecutorManagerThread is a fork of CPython's and breaks the pool the
// same way (TerminatedWorkerError, a BrokenProcessPool naming the dead
// workers' exit codes, to every pending future); what it adds is that
// get_reusable_executor replaces a broken executor with a fresh one.
const Loky Strategy = "loky"

func init() {
	Define(Definition{
		Name: Loky, Order: 6,
		Models:  "loky's reusable executor: ProcessPoolExecutor's fail-fast manager, and a fresh pool from get_reusable_executor once it broke",
		Follows: "loky 3.3 (joblib 1.2) reusable executor",
		Functions: []string{"get_reusable_executor", "_ReusablePoolExecutor.get_reusable_executor", "ProcessPoolExecutor.submit",
			"_ExecutorManagerThread.wait_result_broken_or_wakeup", "_ExecutorManagerThread.terminate_broken",
			"_process_worker", "_sendback_result", "TerminatedWorkerError", "ProcessPoolExecutor.shutdown",
			"_ExecutorManagerThread.flag_executor_shutting_down", "_ExecutorManagerThread.kill_workers", "Future._invoke_callbacks"},
		SharedQueues: true,
		Worker:       failFastWorker,
		// Future.result: Condition.wait, interruptible on Python 3.
		InterruptibleWaits: true,
		// chunksize: loky 3.3's ProcessPoolExecutor.map is CPython's
		// (_get_chunks, _process_chunk, _chain_from_iterable_of_lists,
		// then concurrent.futures.Executor.map): failfast's MapChunks.
		// initializer: _process_worker catches its error, logs it and
		// returns without its exit pid, as 3.11's (InitReturns).
		Options: []Option{OptionRecover, OptionChunkSize, OptionInitializer},
		Start: func(o Options) (Pool, error) {
			o.Recover = true
			return startReusable(Loky, o)
		},
	})
}

// A Reuser is a pool that can be asked for again after it broke, as
// loky's get_reusable_executor is.
type Reuser interface {
	Pool
	// Reuse follows _ReusablePoolExecutor.get_reusable_executor: if the
	// executor is broken, it is shut down (`executor.shutdown(wait=True)`)
	// and a fresh one with the same arguments takes its place; otherwise
	// it is reused as it is. Until then every submit on the broken
	// executor fails, as loky's ProcessPoolExecutor.submit raises
	// `self._flags.broken`. Futures of the broken executor keep their
	// errors.
	Reuse(ctx context.Context) error
}

// reusable is a fail-fast pool behind the handle a program gets from
// get_reusable_executor: the same handle reaches a fresh executor once
// the broken one is replaced.
type reusable struct {
	s Strategy
	o Options

	mu  sync.Mutex
	cur *failFast
}

func startReusable(s Strategy, o Options) (*reusable, error) {
	p, err := startFailFast(s, o)
	if err != nil {
		return nil, err
	}
	return &reusable{s: s, o: o, cur: p}, nil
}

func (r *reusable) current() *failFast {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

func (r *reusable) Reuse(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.cur
	cur.mu.Lock()
	broken := cur.broken != nil
	cur.mu.Unlock()
	if !broken {
		return nil
	}
	cur.Close()
	if err := cur.Join(ctx); err != nil {
		return err
	}
	p, err := startFailFast(r.s, r.o)
	if err != nil {
		return err
	}
	r.cur = p
	return nil
}

func (r *reusable) Strategy() Strategy { return r.s }

func (r *reusable) Submit(ctx context.Context, t Task) (*Future, error) {
	return r.current().Submit(ctx, t)
}

func (r *reusable) Map(ctx context.Context, ts []Task) ([]Result, error) {
	return r.current().Map(ctx, ts)
}

func (r *reusable) Close() error                   { return r.current().Close() }
func (r *reusable) Join(ctx context.Context) error { return r.current().Join(ctx) }
func (r *reusable) Terminate() error               { return r.current().Terminate() }
func (r *reusable) Snapshot() Snapshot             { return r.current().Snapshot() }

func (r *reusable) Interrupt(pid int, t Trigger) error { return r.current().Interrupt(pid, t) }

func (r *reusable) Signal(pid int, sig syscall.Signal) error {
	return r.current().Signal(pid, sig)
}

// SignalGroup signals the current executor's process group: a Ctrl-C
// reaches the workers a terminal would reach.
func (r *reusable) SignalGroup(sig syscall.Signal) error { return r.current().SignalGroup(sig) }
