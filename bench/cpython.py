#!/usr/bin/env python3
"""Measure CPython's own process pools on this machine, as a baseline for
the Go benchmarks of poolhang.

Two things are measured:

1. Fault-free throughput (tasks/s) of a trivial task (x*x) sent one task
   per message through multiprocessing.Pool and
   concurrent.futures.ProcessPoolExecutor, with 2 and 8 workers, using the
   'fork' start method.  Pool start-up and a warm-up map of 2*W tasks are
   excluded from the timed part; the median of --repeat runs is reported.

2. How long CPython takes to tell its user that a job will never finish
   after a worker was killed (SIGKILL) in the middle of it:
   - multiprocessing.Pool replaces the dead worker but loses its task, so
     the job hangs; the only thing the user can do is a bounded wait
     (AsyncResult.get(timeout=T)), and "detection" costs the full T.
   - ProcessPoolExecutor notices the death and raises BrokenProcessPool.

Standard library only.  The script never waits without a timeout, always
tears its pools down in `finally`, and checks at the end that no child
process is left.  Exit status: 0 on success, 1 if a measurement did not
behave as expected or a child process was left behind, 3 if the global
watchdog fired.
"""

import argparse
import concurrent.futures
import concurrent.futures.process
import json
import multiprocessing
import os
import signal
import statistics
import sys
import threading
import time

WORKER_COUNTS = (2, 8)
HANG_TASKS = 6            # tasks in the hang job
HANG_VICTIM = 2           # index of the task that SIGKILLs its own worker
PPE_SAFETY_TIMEOUT = 30.0  # BrokenProcessPool is expected well before this
TEARDOWN_TIMEOUT = 10.0   # bound on terminate()/shutdown()
WATCHDOG_MIN_SECONDS = 300.0  # hard cap on the whole run (see watchdog_seconds)

CTX = multiprocessing.get_context("fork")


# --------------------------------------------------------------------------
# Tasks (module level so that they are picklable by reference).

def square(x):
    return x * x


def square_or_die(x):
    """The seed case: task HANG_VICTIM kills the worker running it."""
    if x == HANG_VICTIM:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


# --------------------------------------------------------------------------
# Teardown helpers: bounded, and a last resort that kills every child.

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_bounded(fn, timeout):
    """Run fn() in a daemon thread; return True if it finished in time."""
    done = threading.Event()
    err = []

    def target():
        try:
            fn()
        except BaseException as e:  # reported, never swallowed silently
            err.append(e)
        finally:
            done.set()

    threading.Thread(target=target, daemon=True).start()
    if not done.wait(timeout):
        log(f"warning: {getattr(fn, '__qualname__', fn)} did not finish in {timeout}s")
        return False
    if err:
        log(f"warning: {getattr(fn, '__qualname__', fn)} raised {err[0]!r}")
        return False
    return True


def kill_children(timeout=5.0):
    """SIGKILL and reap every multiprocessing child still alive."""
    children = multiprocessing.active_children()
    for p in children:
        try:
            p.kill()
        except Exception:
            pass
    for p in children:
        p.join(timeout)
    return multiprocessing.active_children()


def teardown_pool(pool):
    if pool is None:
        return
    if not run_bounded(pool.terminate, TEARDOWN_TIMEOUT):
        kill_children()


def teardown_executor(ex):
    if ex is None:
        return
    ok = run_bounded(lambda: ex.shutdown(wait=True, cancel_futures=True),
                     TEARDOWN_TIMEOUT)
    if not ok:
        # Private attribute, but the only handle on the workers before 3.14
        # (which adds ProcessPoolExecutor.kill_workers()).
        for p in list((getattr(ex, "_processes", None) or {}).values()):
            try:
                p.kill()
            except Exception:
                pass
        kill_children()


_PR_SET_PDEATHSIG = 1
try:  # loaded here so that forked workers inherit it ready to use
    import ctypes
    _LIBC = ctypes.CDLL(None)
except Exception:
    _LIBC = None


def _die_with_parent(parent_pid):
    """Pool initializer.  Restores the default SIGTERM action (the parent's
    handler is inherited through fork) so that terminate() works exactly as
    in a plain pool, and has the kernel SIGKILL this worker when the thread
    that forked it dies (Linux prctl(PR_SET_PDEATHSIG)), so that no worker
    outlives the script even if the script itself is SIGKILLed or exits
    from the watchdog while a pool is respawning workers.  Runs once per
    worker, before any task, so it is outside every timed part.  The prctl
    part is a no-op where it is unavailable."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def watchdog_seconds(tasks, repeat):
    # Every wait is bounded already; this is the last line of defence.  It
    # allows 1000 tasks/s, far below any CPython pool, for the 4 timed
    # configurations.
    return max(WATCHDOG_MIN_SECONDS, 60.0 + 4 * repeat * tasks / 1000.0)


def start_watchdog(seconds):
    def fire():
        log(f"error: watchdog: run exceeded {seconds}s, killing children and exiting")
        try:
            kill_children(timeout=2.0)
        finally:
            os._exit(3)

    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()
    return t


def install_sigterm_handler():
    """Turn SIGTERM into an exception in this process so that the `finally`
    clauses run and no worker is orphaned.  Forked workers inherit the
    handler until their initializer resets it; there it just exits at once,
    as the default action would."""
    main_pid = os.getpid()

    def handler(signum, frame):
        if os.getpid() != main_pid:
            os._exit(128 + signum)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


# --------------------------------------------------------------------------
# 1. Throughput.

def safety_timeout(n):
    # Generous: a CPython pool does far more than 200 trivial tasks/s; this
    # only exists so that a broken run fails instead of hanging.
    return 30.0 + n / 200.0


def throughput_mp_pool(workers, n):
    pool = None
    try:
        pool = CTX.Pool(processes=workers, initializer=_die_with_parent,
                        initargs=(os.getpid(),))
        warm = pool.map_async(square, range(2 * workers), chunksize=1)
        warm.get(timeout=safety_timeout(2 * workers))
        # pool.map(f, it, chunksize=1) is map_async(...).get() without a
        # timeout; the bounded form is used so the script can never hang.
        t0 = time.perf_counter()
        out = pool.map_async(square, range(n), chunksize=1).get(timeout=safety_timeout(n))
        elapsed = time.perf_counter() - t0
    finally:
        teardown_pool(pool)
    check_results(out, n)
    return n / elapsed


def throughput_ppe(workers, n):
    ex = None
    try:
        ex = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=CTX,
            initializer=_die_with_parent, initargs=(os.getpid(),))
        list(ex.map(square, range(2 * workers), timeout=safety_timeout(2 * workers)))
        t0 = time.perf_counter()
        out = list(ex.map(square, range(n), timeout=safety_timeout(n)))  # chunksize=1
        elapsed = time.perf_counter() - t0
    finally:
        teardown_executor(ex)
    check_results(out, n)
    return n / elapsed


def check_results(out, n):
    if out != [x * x for x in range(n)]:
        raise RuntimeError("pool returned wrong results")


# --------------------------------------------------------------------------
# 2. Hang detection.

def hang_mp_pool(timeout):
    """Seconds from submitting the job to the TimeoutError of get(timeout)."""
    pool = None
    try:
        pool = CTX.Pool(processes=2, initializer=_die_with_parent,
                        initargs=(os.getpid(),))
        pool.map_async(square, range(4), chunksize=1).get(timeout=safety_timeout(4))
        original = list(getattr(pool, "_pool", []))  # private; for a sanity check only
        t0 = time.perf_counter()
        res = pool.map_async(square_or_die, range(HANG_TASKS), chunksize=1)
        try:
            res.get(timeout=timeout)
        except multiprocessing.TimeoutError:
            elapsed = time.perf_counter() - t0
        else:
            raise RuntimeError("multiprocessing.Pool: the job completed although a worker was killed")
        # Sanity check, outside the timed part: a worker really died of
        # SIGKILL (with a very small T the wait may expire before the death,
        # so allow it a few seconds to happen).
        deadline = time.monotonic() + 5.0
        codes = [p.exitcode for p in original]
        while original and -signal.SIGKILL not in codes and time.monotonic() < deadline:
            time.sleep(0.01)
            codes = [p.exitcode for p in original]
        if original and -signal.SIGKILL not in codes:
            raise RuntimeError(f"multiprocessing.Pool: no worker died of SIGKILL (exit codes {codes})")
    finally:
        teardown_pool(pool)
    return elapsed


def hang_ppe():
    """Seconds from submitting the job to BrokenProcessPool."""
    ex = None
    try:
        ex = concurrent.futures.ProcessPoolExecutor(
            max_workers=2, mp_context=CTX,
            initializer=_die_with_parent, initargs=(os.getpid(),))
        list(ex.map(square, range(4), timeout=safety_timeout(4)))
        t0 = time.perf_counter()
        try:
            list(ex.map(square_or_die, range(HANG_TASKS), timeout=PPE_SAFETY_TIMEOUT))
        except concurrent.futures.process.BrokenProcessPool:
            elapsed = time.perf_counter() - t0
        except concurrent.futures.TimeoutError:
            raise RuntimeError(
                f"ProcessPoolExecutor: no BrokenProcessPool within {PPE_SAFETY_TIMEOUT}s")
        else:
            raise RuntimeError("ProcessPoolExecutor: the job completed although a worker was killed")
    finally:
        teardown_executor(ex)
    return elapsed


# --------------------------------------------------------------------------

def measure(args):
    throughput = []
    if args.part in ("all", "throughput"):
        for name, fn in (("multiprocessing.Pool", throughput_mp_pool),
                         ("ProcessPoolExecutor", throughput_ppe)):
            for w in WORKER_COUNTS:
                runs = [fn(w, args.tasks) for _ in range(args.repeat)]
                throughput.append({"pool": name, "workers": w,
                                   "tasks_per_s": round(statistics.median(runs), 1)})

    hang = []
    if args.part in ("all", "hang"):
        hang = [
            {"pool": "multiprocessing.Pool",
             "how": "bounded wait (get(timeout=T)) expired",
             "seconds": round(hang_mp_pool(args.hang_timeout), 4)},
            {"pool": "ProcessPoolExecutor",
             "how": "BrokenProcessPool raised",
             "seconds": round(hang_ppe(), 4)},
        ]
    return {
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "tasks": args.tasks,
        "repeat": args.repeat,
        "throughput": throughput,
        "hang_detection": hang,
    }


def print_table(r, hang_timeout):
    print(f"CPython {r['python']}, {r['cpu_count']} CPUs, start method 'fork', "
          f"{r['tasks']} tasks x{r['repeat']} (median), one task per message")
    print()
    print(f"{'pool':<22} {'workers':>7} {'tasks/s':>12}")
    for t in r["throughput"]:
        print(f"{t['pool']:<22} {t['workers']:>7} {t['tasks_per_s']:>12,.0f}")
    print()
    print(f"Hang detection after SIGKILL of the worker running task {HANG_VICTIM} "
          f"of {HANG_TASKS} (T = {hang_timeout:g}s):")
    print(f"{'pool':<22} {'seconds':>8}  how")
    for h in r["hang_detection"]:
        print(f"{h['pool']:<22} {h['seconds']:>8.3f}  {h['how']}")


def positive_int(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return v


def positive_float(s):
    v = float(s)
    if not v > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=positive_int, default=20000,
                    help="tasks per timed map (default 20000)")
    ap.add_argument("--repeat", type=positive_int, default=3,
                    help="runs per throughput measurement; the median is reported (default 3)")
    ap.add_argument("--hang-timeout", type=positive_float, default=1.0, metavar="T",
                    help="seconds of the bounded wait on the hung multiprocessing.Pool job (default 1.0)")
    ap.add_argument("--part", choices=("all", "throughput", "hang"), default="all",
                    help="what to measure (default all); bench/perf interleaves throughput runs with Go's")
    ap.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    args = ap.parse_args(argv)

    install_sigterm_handler()
    watchdog = start_watchdog(watchdog_seconds(args.tasks, args.repeat))
    status = 0
    result = None
    try:
        result = measure(args)
    except Exception as e:
        log(f"error: {e}")
        status = 1
    except KeyboardInterrupt:
        log("interrupted")
        status = 130
    except SystemExit as e:  # SIGTERM, see install_sigterm_handler
        log("terminated")
        status = e.code
    finally:
        left = multiprocessing.active_children()
        if left:
            log(f"error: child processes left behind: {[p.pid for p in left]}; killing them")
            still = kill_children()
            if still:
                log(f"error: could not reap: {[p.pid for p in still]}")
            status = 1
        watchdog.cancel()

    if result is not None:
        if args.json:
            print(json.dumps(result))
        else:
            print_table(result, args.hang_timeout)
    return status


if __name__ == "__main__":
    sys.exit(main())
