// Package pools holds worker-pool strategies whose workers are real OS
// processes talking to the parent over real pipes.
//
// Each strategy models the mechanism of a real design: [Naive] follows
// CPython 2.6's multiprocessing.Pool, [Respawn] the 2.7/3.x Pool with its
// worker handler, [FailFast] concurrent.futures.ProcessPoolExecutor, and
// [Tracked] is the design we recommend. Nothing here knows which faults a
// caller will inject or what outcome they expect: a value may carry a
// [Trigger], a registered action that runs when the value reaches a named
// [Point], the way CPython's own deadlock tests hide a crash inside an object's
// pickling. Hangs, if any, emerge from the mechanisms.
//
// A binary that starts pools must call [MaybeServeWorker] first thing in main
// (or TestMain): workers are the same binary re-executed in worker mode, as
// os/exec's tests re-run themselves as helper processes.
//
// Every pool offers [Pool.Snapshot]: what each party (the caller, each parent
// goroutine, each worker process) is doing or blocked on, and who could
// release it. It is cheap and race-free, for a harness that proves hangs.
package pools
