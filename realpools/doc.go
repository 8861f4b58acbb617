// Package realpools is the room that runs real Python pools beside the
// models: the same scenario text that drives a model in pools/ runs on
// CPython's multiprocessing.Pool and ProcessPoolExecutor, on billiard, on
// loky and on pebble, through the driver shipped in driver/.
//
// A run's verdict is completed, raised or no-answer. No-answer is what can
// be observed of a real pool: the caller got nothing and nothing moved (no
// event, no answer, no worker started, ended or ran) for a stretch scaled
// to the pool's own fault-free run and never below 2 s, plus the pool's
// own grace period (billiard fails a lost job only after its
// LOST_WORKER_TIMEOUT). It is not the models' proven hang.
//
// The package owns every process a run starts. A reaper (this binary
// re-executed, see [MaybeServeReaper]) is a child subreaper that starts the
// driver in a process group of its own; whatever way the run ends, the
// reaper kills the group, kills every orphan reparented to it, reaps them
// all, and only then exits. If the Go process dies, even by SIGKILL, the
// reaper sees its lifeline pipe close and does the same.
package realpools
