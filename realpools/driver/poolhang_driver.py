#!/usr/bin/env python3
"""Run one poolhang scenario on a real Python pool and print a JSON outcome.

    poolhang_driver.py [--stall SECONDS] 'pool=py:mp.Pool workers=2 jobs=6 wait=map fault=sigkill@task-run:2'
    poolhang_driver.py --probe

The scenario text is poolhang's (scenarios/scenario.go), with the real pools
named py:mp.Pool, py:ProcessPoolExecutor, py:billiard, py:loky, py:pebble.
Standard library only for CPython's pools; billiard, joblib (loky) and
pebble are imported only when their pool is asked for.

Faults strike at named points, never after sleeps:
  task-encode    an argument whose __reduce__ raises in the parent
  task-decode    an argument whose unpickling (in the worker) strikes
  task-run       inside the task function
  result-encode  a result whose __reduce__ strikes in the worker, before
                 any byte is written (raise, sys-exit, os-exit); for sigkill
                 and segfault, mid-frame as poolhang's catalog defines it
  result-write   mid-frame: the worker's Connection._send writes half of a
                 result larger than the pipe buffer, then strikes
  result-decode  a result whose unpickling strikes in the parent
  reader-memory-error@result-decode
                 the parent's Connection._recv raises MemoryError after it
                 read the frame header of the (large) targeted result, so
                 the body stays in the pipe
  idle-lock-*    the parent finds, from /proc/PID/syscall, the idle worker
                 blocked reading the task queue (it holds the read lock)
                 and those blocked on the lock's futex, then strikes one
Every worker reports what it reached on a pipe (POOLHANG_EVENTS, opened through /proc); a sigkill
is sent by the parent when the worker reports that it stopped at its point.

Pool options (scenarios/section_*.go): chunksize=N is map's chunksize
(mp.Pool, billiard, pebble); maxtasks=N is maxtasksperchild (mp.Pool,
billiard), max_tasks_per_child (ProcessPoolExecutor, 3.11+, which then
spawns its workers) or max_tasks (pebble); initializer=raise is an
initializer that raises in every worker. Under it, a worker that starts
and dies in its initializer is no progress, and the outcome counts them
(workers_started, init_failures): a pool that restarts them forever is
seen as no-answer with its restarts.

The verdict is completed, raised, or no-answer: the caller got nothing and
nothing moved (no event, no result, no worker started or ended) for the
stall limit. Exit status 0 with a JSON outcome; 2 with {"error": ...} for
input the driver cannot run; 3 with {"na": ...} for a fault the pool has
no point for.
"""

import json
import os
import select
import signal
import sys
import threading
import time
import traceback

POOLS = {
    "py:mp.Pool": "multiprocessing.Pool (CPython); the model is respawn",
    "py:ProcessPoolExecutor": "concurrent.futures.ProcessPoolExecutor (CPython); the model is failfast",
    "py:billiard": "billiard.Pool (Celery's fork of multiprocessing.Pool)",
    "py:loky": "loky's reusable executor (joblib.externals.loky)",
    "py:pebble": "pebble.ProcessPool",
}
MODULES = {"py:billiard": "billiard", "py:loky": "joblib.externals.loky", "py:pebble": "pebble"}
KINDS = ("raise", "sys-exit", "os-exit", "exit0", "sigkill", "segfault", "reader-memory-error", "stuck", "sigstop", "sigint",
         "big-result", "parent-killed", "fork-held-lock", "sigstop-cont")
JOB_PHASES = ("task-encode", "task-decode", "task-run", "result-encode", "result-write", "result-decode")
IDLE_PHASES = ("idle-lock-holder", "idle-lock-waiter")
START_PHASES = ("worker-start",)  # strikes each first worker, not a job
START_METHODS = ("fork", "forkserver", "spawn")
# fork-held-lock: a module lock a parent thread holds while the pool
# starts its workers, and every worker's initializer takes. A worker
# forked meanwhile inherits it held; one spawned, or forked from the
# forkserver, imports this module afresh and finds it free.
HELD = threading.Lock()
PARENT_PHASES = ("task-encode", "result-decode")
CALLER_PHASES = ("callback", "input")  # the caller's own code (see the call styles below)
WAITS = ("map", "get", "join", "callback", "imap", "imap_unordered")
DYING = ("os-exit", "sigkill", "segfault")
# The catalog splits a death while the result is encoded (result-encode,
# before any byte is written) from one mid-frame (result-write): nothing
# at result-encode is moved to result-write any more.
MIDFRAME_AT_RESULT_ENCODE = ()
SYS_EXIT_CODE = 2
OS_EXIT_CODE = 3
MAX_JOBS = 4096
MAX_PAYLOAD = 64 << 20
BIG = 1 << 20  # extra result bytes for mid-frame strikes: far above the 64 KiB pipe buffer
BIG_RESULT = 1 << 20  # big-result's value (faults.BigResultSize): 16 pipe buffers


def big_value():
    """big-result's value, byte for byte poolhang's pools.Payload(BIG_RESULT)."""
    return (bytes(range(251)) * (BIG_RESULT // 251 + 1))[:BIG_RESULT]
IDLE_SIGNAL = signal.SIGRTMIN + 5  # in no pool's reset list (billiard resets SIGUSR1/2)


class BadInput(Exception):
    pass


class NotApplicable(Exception):
    pass


class InjectedError(Exception):
    """The ordinary error of fault kind raise."""


# ---------------------------------------------------------------- events

_events_fd = {}


def emit(*fields):
    """Tell the parent (one line on the events pipe, atomic below PIPE_BUF)."""
    path = os.environ.get("POOLHANG_EVENTS")
    if not path:
        return
    pid = os.getpid()
    fd = _events_fd.get(pid)
    try:
        if fd is None:
            fd = os.open(path, os.O_WRONLY)
            _events_fd[pid] = fd
        os.write(fd, (" ".join(str(f) for f in fields) + "\n").encode())
    except OSError:
        pass  # a worker must not die of its report


def in_parent():
    return str(os.getpid()) == os.environ.get("POOLHANG_PARENT")


def strike(kind, phase, job):
    """Make fault kind happen here and now."""
    emit("strike", job, phase, kind, os.getpid())
    if kind == "raise":
        raise InjectedError("raise at %s of job %s" % (phase, job))
    if kind == "sys-exit":
        sys.exit(SYS_EXIT_CODE)
    if in_parent():
        raise RuntimeError("poolhang driver: %s refused in the parent" % kind)
    if kind == "os-exit":
        os._exit(OS_EXIT_CODE)
    if kind == "exit0":
        # exit_group(0): the wait status a retiring worker leaves.
        os._exit(0)
    if kind == "sigint":
        # Ctrl-C: SIGINT to the whole process group (the reaper started the
        # driver in a group of its own): the parent, whose main thread is
        # the caller, and every worker, this one included. Here the
        # KeyboardInterrupt is raised at the next eval-breaker check (a
        # backward jump), unless this worker ignores SIGINT or its pool's
        # handler does not raise; then the task goes on.
        os.killpg(os.getpgrp(), signal.SIGINT)
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            return
        end = time.monotonic() + 5
        while time.monotonic() < end:
            pass
        return
    if kind == "sigstop":
        # Stopped for good (state T): nobody sends SIGCONT; the reaper's
        # SIGKILL ends it at teardown, which works on a stopped process.
        os.kill(os.getpid(), signal.SIGSTOP)
        raise RuntimeError("poolhang driver: sigstop: the worker was continued")
    if kind == "sigstop-cont":
        # Stopped (state T) until the driver's SIGCONT (continue_when_alone),
        # then the code at the point goes on.
        stop_until_continued(job, phase)
        return
    if kind == "segfault":
        import ctypes
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        ctypes.string_at(0)
        os._exit(99)  # not reached
    if kind == "sigkill":
        # The parent sends SIGKILL when it reads the strike line.
        while True:
            signal.pause()
    if kind == "stuck":
        threading.Event().wait()
    if kind == "parent-killed":
        # The driver kills the pool's parent when it reads the strike
        # line; the task goes on once the parent is dead.
        await_parent_death()
        return
    raise RuntimeError("poolhang driver: no action for %s" % kind)


def await_parent_death():
    """Return once this process's parent has died (a pidfd polled, no sleep)."""
    ppid = os.getppid()
    try:
        fd = os.pidfd_open(ppid)
    except OSError:
        return
    try:
        if os.getppid() == ppid:
            select.select([fd], [], [])
    finally:
        os.close(fd)


def _task_decode(kind, job):
    strike(kind, "task-decode", job)


def _result_decode(kind, job, value):
    strike(kind, "result-decode", job)


def _result(job, value, filler=b""):
    if in_parent():
        emit("result", job, os.getpid())
    return ("res", job, value)


class Trap:
    """An argument that strikes when pickled (parent) or unpickled (worker)."""

    def __init__(self, kind, phase, job):
        self.kind, self.phase, self.job = kind, phase, job

    def __reduce__(self):
        if self.phase == "task-encode":
            strike(self.kind, self.phase, self.job)
        return (_task_decode, (self.kind, self.job))


RESULT_PHASES = ("result-encode", "result-write", "reader-memory", "result-decode")


def _trap_reduce(faults, job, rebuild, args):
    """Strike one job's result faults in the order the result reaches them,
    as the models do (pools: encodeResult, the worker's write, the parent's
    reader, decodeResult): every result-encode fault now, in the worker
    (the first raise, exit or death ends it); then the first result-write
    fault mid-frame and any reader-memory-error at the parent's read,
    through a frame larger than the pipe buffer; then, in the parent, the
    result-decode faults as the result is unpickled. rebuild(*args) is the
    result the parent gets if nothing struck before."""
    of = lambda ph: [k for k, p in faults if p == ph]
    for kind in of("result-encode"):
        strike(kind, "result-encode", job)
    filler = b""
    if of("result-write"):
        _midframe.update(kind=of("result-write")[0], job=job)
        filler = b"w" * BIG
    if of("reader-memory"):
        filler = b"m" * (2 * BIG)  # the parent's reader fails on its size
    return (_rebuild, (job, tuple(of("result-decode")), filler, rebuild, args))


def _rebuild(job, decode, filler, rebuild, args):
    for kind in decode:
        strike(kind, "result-decode", job)
    return rebuild(*args)


class ResultTrap:
    """A result that strikes its job's result faults when pickled (worker)
    and unpickled (parent)."""

    def __init__(self, faults, job, value):
        self.faults, self.job, self.value = faults, job, value

    def __reduce__(self):
        return _trap_reduce(self.faults, self.job, _result, (self.job, self.value))


class _Trapped:
    """An error raised by a task-run fault that carries its job's result
    faults: the pool sends the error as the job's result, so they strike on
    it as on a value (the models keep a job's result triggers on its error
    result). The parent gets the plain error back."""

    _poolhang_trap = None

    def __reduce__(self):
        if self._poolhang_trap is None:
            return super().__reduce__()
        faults, job = self._poolhang_trap
        return _trap_reduce(faults, job, self._plain, self.args)


class _TrappedError(_Trapped, InjectedError):
    _plain = InjectedError


class _TrappedExit(_Trapped, SystemExit):
    _plain = SystemExit


def _strike_run(kind, job, results):
    """strike at task-run; a raise or sys-exit carries the result faults."""
    try:
        strike(kind, "task-run", job)
    except (InjectedError, SystemExit) as e:
        if not results or type(e) not in (InjectedError, SystemExit):
            raise
        t = (_TrappedError if isinstance(e, InjectedError) else _TrappedExit)(*e.args)
        t._poolhang_trap = (results, job)
        raise t from None


# ------------------------------------------- points inside the connections

_midframe = {}
_reader_fault = {}


def _patch_connections(cls):
    send, recv = cls._send, cls._recv

    def _send(self, buf, *a):
        if _midframe and len(buf) >= BIG:
            kind, job = _midframe.pop("kind"), _midframe.pop("job")
            half = memoryview(buf)[: len(buf) // 2]
            while half:
                n = os.write(self._handle, half)
                half = half[n:]
            strike(kind, "result-write", job)
            # Only a kind that goes on returns here (sigstop-cont): the
            # rest of the frame follows the half already written.
            return send(self, memoryview(buf)[len(buf) // 2:], *a)
        return send(self, buf, *a)

    def _recv(self, size, *a):
        if _reader_fault and size >= _reader_fault["min"] and in_parent():
            job = _reader_fault.pop("job")
            _reader_fault.clear()
            emit("strike", job, "result-decode", "reader-memory-error", os.getpid())
            raise MemoryError("reader-memory-error: cannot allocate %d bytes for the result of job %s" % (size, job))
        return recv(self, size, *a)

    cls._send, cls._recv = _send, _recv


def patch_connections():
    import multiprocessing.connection
    _patch_connections(multiprocessing.connection.Connection)
    try:
        import billiard.connection
    except ImportError:
        return
    _patch_connections(billiard.connection.Connection)


# -------------------------------------------------------------- the task

def worker_init():
    patch_connections()
    signal.signal(IDLE_SIGNAL, _idle_strike)
    emit("hello", os.getpid())
    if os.environ.get("POOLHANG_FORK_LOCK"):
        # Like logging's module lock taken by a handler the initializer
        # configures: blocks for good if the lock came held across fork.
        emit("start-lock", os.getpid())
        with HELD:
            pass
        emit("start-lock-taken", os.getpid())


def _idle_strike(signum, frame):
    strike(os.environ.get("POOLHANG_IDLE_KIND", "?"), "idle", -1)


def run_job(arg):
    job, payload, faults = arg[0], arg[1], arg[2]
    emit("run", job, os.getpid())
    value = payload if payload is not None else job * job
    results = tuple((k, p) for k, p in faults if p in RESULT_PHASES)
    for kind, phase in faults:
        if kind == "big-result":
            # Not a strike: the function returns 1 MiB. The worker then
            # blocks in write on the result pipe until the parent reads.
            emit("big-result", job, os.getpid())
            value = big_value()
        elif phase == "task-run":
            _strike_run(kind, job, results)
    if results:
        return ResultTrap(results, job, value)
    return _Res(job, value)


class _Res:
    def __init__(self, job, value):
        self.job, self.value = job, value

    def __reduce__(self):
        return (_result, (self.job, self.value))


def noop(x):
    return x


# -------------------------------------------------------------- scenario

def parse(text):
    sc = {"wait": "map", "payload": 0, "faults": []}
    seen = set()
    keys = "pool, workers, jobs, payload, chunksize, maxtasks, initializer, wait, start, fault"
    for field in text.split():
        key, eq, val = field.partition("=")
        if not eq:
            raise BadInput("%r is not key=value (keys: %s)" % (field, keys))
        if key in seen and key != "fault":
            raise BadInput("%s given twice" % key)
        seen.add(key)
        if key == "pool":
            if val not in POOLS:
                raise BadInput("unknown real pool %r (allowed: %s)" % (val, ", ".join(POOLS)))
            sc["pool"] = val
        elif key in ("workers", "jobs", "payload", "chunksize"):
            try:
                sc[key] = int(val)
            except ValueError:
                raise BadInput("%s=%r is not a whole number" % (key, val))
        elif key == "wait":
            if val not in WAITS + ENDING:
                raise BadInput("unknown wait style %r (allowed: %s)" % (val, ", ".join(WAITS + ENDING)))
            sc["wait"] = val
        elif key == "start":
            if val not in START_METHODS:
                raise BadInput("unknown start method %r (allowed: %s)" % (val, ", ".join(START_METHODS)))
            sc["start"] = val
        elif key == "deadline":
            raise BadInput("deadline=%s: only poolhang's tracked model has per-task deadlines; no real pool takes one here" % val)
        elif key == "fault":
            sc["faults"].append(parse_fault(val))
        elif key in LIFECYCLE_KEYS:
            parse_lifecycle(sc, key, val)
        else:
            raise BadInput("unknown key %r (keys: %s)" % (key, keys))
    for k in ("pool", "workers", "jobs"):
        if k not in sc:
            raise BadInput("missing %s= (need pool, workers and jobs)" % k)
    if not 1 <= sc["workers"] <= 64:
        raise BadInput("workers=%d, allowed 1 to 64" % sc["workers"])
    if not 0 <= sc["jobs"] <= MAX_JOBS:
        raise BadInput("jobs=%d, allowed 0 to %d" % (sc["jobs"], MAX_JOBS))
    if not 0 <= sc["payload"] <= MAX_PAYLOAD:
        raise BadInput("payload=%d, allowed 0 to %d bytes" % (sc["payload"], MAX_PAYLOAD))
    check_call_style(sc)
    check_ending(sc)
    if any(k == "parent-killed" for k, _, _ in sc["faults"]) and len(sc["faults"]) > 1:
        raise BadInput("a parent-killed fault must be the scenario's only fault (it has %d)" % len(sc["faults"]))
    for kind, phase, job in sc["faults"]:
        if job is not None and job >= sc["jobs"]:
            raise BadInput("fault %s@%s:%d targets job %d, but the scenario has %d jobs" % (kind, phase, job, job, sc["jobs"]))
        check_fault(sc, kind, phase)
    check_lifecycle(sc)
    idle = [(k, ph) for k, ph, j in sc["faults"] if j is None and ph in IDLE_PHASES]
    if len(idle) > 1:
        raise BadInput("%d idle faults (%s): the driver strikes one idle worker before the jobs are submitted; give at most one" % (
            len(idle), ", ".join("%s@%s" % f for f in idle)))
    return sc


def parse_fault(val):
    kind, at, rest = val.partition("@")
    if not at:
        raise BadInput("fault %r: want KIND@PHASE:JOB (or KIND@PHASE for idle phases)" % val)
    if kind not in KINDS:
        raise BadInput("fault %r: unknown fault kind %r (allowed: %s)" % (val, kind, ", ".join(KINDS)))
    phase, colon, job = rest.partition(":")
    if phase not in JOB_PHASES + IDLE_PHASES + CALLER_PHASES + START_PHASES:
        raise BadInput("fault %r: unknown phase %r (allowed: %s)" % (val, phase, ", ".join(JOB_PHASES + IDLE_PHASES + CALLER_PHASES + START_PHASES)))
    if phase in IDLE_PHASES + START_PHASES:
        if colon:
            raise BadInput("fault %r: %s strikes an idle worker before any job exists; drop the :%s" % (val, phase, job))
        return kind, phase, None
    if not colon:
        raise BadInput("fault %r: %s needs a target job, as in %s@%s:2" % (val, phase, kind, phase))
    try:
        n = int(job)
    except ValueError:
        n = -1
    if n < 0:
        raise BadInput("fault %r: target job %r is not a job number (0, 1, ...)" % (val, job))
    return kind, phase, n


def check_fault(sc, kind, phase):
    """BadInput for pairs no pool has (poolhang's catalog); NotApplicable
    for a point this real pool lacks."""
    allowed = {
        "raise": ("task-encode", "task-decode", "task-run", "result-encode", "result-decode") + CALLER_PHASES,
        "sys-exit": ("task-decode", "task-run", "result-encode", "result-decode"),
        "os-exit": ("task-decode", "task-run", "result-encode", "result-write") + IDLE_PHASES,
        "sigkill": ("task-decode", "task-run", "result-encode", "result-write") + IDLE_PHASES,
        "segfault": ("task-decode", "task-run", "result-encode", "result-write") + IDLE_PHASES,
        "reader-memory-error": ("result-decode",),
        "stuck": ("task-run",),
        "exit0": ("task-decode", "task-run", "result-encode"),
        "sigstop": ("task-decode", "task-run", "result-encode", "result-write", "idle-lock-holder"),
        "sigstop-cont": ("task-decode", "task-run", "result-encode", "result-write", "idle-lock-holder"),
        "sigint": ("task-decode", "task-run", "result-encode"),
        "big-result": ("task-run",),
        "parent-killed": ("task-run",),
        "fork-held-lock": START_PHASES,
    }[kind]
    if phase not in allowed:
        raise BadInput("impossible fault: %s at %s (%s strikes at: %s)" % (kind, phase, kind, ", ".join(allowed)))
    pool = sc["pool"]
    if phase == "idle-lock-holder" and pool == "py:pebble":
        why = ("pebble's idle workers wait in channel.poll() without the channel lock and take it only "
               "to receive and acknowledge a ready task (pebble/pool/process.py fetch_task, task_transaction)")
        raise NotApplicable("%s at idle-lock-holder: %s" % (kind, why))
    if kind == "sigstop" and phase == "idle-lock-holder" and pool == "py:loky":
        why = ("loky's reusable executor retires a worker idle for its timeout (10 s, get_reusable_executor): "
               "the worker blocked on the call queue's read lock, which the stopped worker holds, gives up "
               "(_process_worker: call_queue.get(timeout=...) raises queue.Empty) and loky starts another, every 10 s "
               "for ever; this driver counts a worker started or ended as progress, so it can tell that churn "
               "neither from a slow pool nor from a no-answer (seen: no verdict within 2m49s)")
        raise NotApplicable("%s at idle-lock-holder: %s" % (kind, why))
    if phase == "idle-lock-waiter" and sc["workers"] < 2 and pool != "py:pebble":
        raise NotApplicable("%s at idle-lock-waiter: with one worker, that worker holds the read lock; a waiter needs at least 2 workers" % kind)


# ------------------------------------------- pool options (issue 13)

LIFECYCLE_KEYS = ("chunksize", "maxtasks", "initializer")
_lifecycle = {}  # the scenario's pool options, set once per run

# The argument each real pool takes for maxtasks=, or why it has none
# (scenarios/lifecycle.go says the same on the Go side).
MAXTASKS_ARG = {"py:mp.Pool": "maxtasksperchild", "py:billiard": "maxtasksperchild",
                "py:ProcessPoolExecutor": "max_tasks_per_child", "py:pebble": "max_tasks"}
MAXTASKS_NA = {"py:loky": "loky's ProcessPoolExecutor takes no tasks-per-worker limit"}
CHUNKED_MAPS = ("py:mp.Pool", "py:billiard", "py:pebble", "py:ProcessPoolExecutor", "py:loky")


def parse_lifecycle(sc, key, val):
    if key == "initializer":
        if val != "raise":
            raise BadInput("initializer=%r: allowed raise (an initializer that raises in every worker)" % val)
        sc[key] = val
        return
    try:
        n = int(val)
    except ValueError:
        raise BadInput("%s=%r is not a whole number" % (key, val))
    if not 1 <= n <= MAX_JOBS:
        raise BadInput("%s=%d, allowed 1 to %d" % (key, n, MAX_JOBS))
    sc[key] = n


def check_lifecycle(sc):
    pool = sc["pool"]
    if sc.get("start") == "fork" and pool == "py:loky":
        raise NotApplicable("start=fork: loky's reusable executor refuses it (get_reusable_executor: "
                            "\"Cannot use reusable executor with the 'fork' context\")")
    if sc.get("maxtasks") and pool in MAXTASKS_NA:
        raise NotApplicable("maxtasks=%d: %s" % (sc["maxtasks"], MAXTASKS_NA[pool]))
    if sc.get("maxtasks") and pool == "py:ProcessPoolExecutor" and sys.version_info < (3, 11):
        raise NotApplicable("maxtasks=%d: ProcessPoolExecutor takes max_tasks_per_child from Python 3.11; this is %s" % (sc["maxtasks"], sys.version.split()[0]))
    if sc.get("chunksize"):
        if pool not in CHUNKED_MAPS:
            raise NotApplicable("chunksize=%d: the driver maps %s one call per future" % (sc["chunksize"], pool))
        if sc["wait"] not in ("map", "imap", "imap_unordered"):
            raise BadInput("chunksize=%d: a chunk size is map's and imap's argument; wait=%s submits each job alone" % (sc["chunksize"], sc["wait"]))


def lifecycle_kwargs(pool):
    """The pool's constructor arguments: the initializer (the driver's own,
    or one that raises after it) and the tasks-per-worker limit."""
    kw = {"initializer": worker_init_raise if _lifecycle.get("initializer") == "raise" else worker_init}
    n = _lifecycle.get("maxtasks")
    if n:
        kw[MAXTASKS_ARG[pool]] = n
        # 3.11: max_tasks_per_child "is incompatible with the 'fork'
        # multiprocessing start method"; with no mp_context the executor
        # takes the "spawn" context itself (concurrent/futures/process.py).
    return kw


def chunk_kwargs():
    n = _lifecycle.get("chunksize")
    return {"chunksize": n} if n else {}


def worker_init_raise():
    """An initializer that raises, in every worker, after the driver's own
    set-up (so the worker reports itself first)."""
    worker_init()
    emit("init-failed", os.getpid())
    raise InjectedError("raise in the initializer of worker %d" % os.getpid())


def init_signature(run):
    """Progress under initializer=raise: a worker that starts and dies in
    its initializer moves nothing a caller waits for, so it does not
    count; an answer, or any event other than a worker's hello and its
    failed initializer (a job run, a strike, a result), does. A pool that
    restarts its workers forever is then seen as no answer, and the
    restarts are counted (lifecycle_evidence)."""
    with run.lock:
        moved = sum(1 for _, e in run.log if e.split()[0] not in ("hello", "init-failed"))
        return (moved, len(run.answers)), 0, any_runnable(os.getpid(), _driver_tids)


def lifecycle_evidence(out, run):
    """How many workers started, and how many of them died in the pool's
    initializer: the restart count of a livelock, as far as it got."""
    if not _lifecycle.get("initializer"):
        return
    for w in out["workers"]:
        if w["pid"] in run.init_failed:
            w["init_failed"] = True
    out["workers_started"] = len(out["workers"])
    out["init_failures"] = len(run.init_failed)


# ------------------------------------------------- ending call styles

# The call styles that end the pool after a bounded get (scenarios/endings.go):
# the caller submits each job and waits for them until every one is
# answered or nothing moved for the stall limit (the model's proof of a
# stuck wait; here a timeout), then calls terminate() or shutdown().
ENDING = ("terminate", "shutdown", "shutdown-cancel")
ENDING_NA = {
    ("terminate", "py:ProcessPoolExecutor"): "ProcessPoolExecutor (3.11) has no terminate(): its nearest is "
    "shutdown(wait=False, cancel_futures=True), wait=shutdown-cancel (terminate_workers() comes in 3.14)",
    ("shutdown", "py:mp.Pool"): "multiprocessing.Pool has no shutdown(): close() then join() is wait=join, terminate() is wait=terminate",
    ("shutdown-cancel", "py:mp.Pool"): "multiprocessing.Pool has no shutdown(): close() then join() is wait=join, terminate() is wait=terminate",
    ("shutdown", "py:billiard"): "billiard.Pool has no shutdown(): close() then join() is wait=join, terminate() is wait=terminate",
    ("shutdown-cancel", "py:billiard"): "billiard.Pool has no shutdown(): close() then join() is wait=join, terminate() is wait=terminate",
    ("shutdown", "py:pebble"): "pebble.ProcessPool has no shutdown(): close() then join() is wait=join, stop() then join() is wait=terminate",
    ("shutdown-cancel", "py:pebble"): "pebble.ProcessPool has no shutdown(): close() then join() is wait=join, stop() then join() is wait=terminate",
    ("shutdown-cancel", "py:loky"): "loky 3.3's shutdown(wait=True, kill_workers=False) has no cancel_futures",
}


class Terminated(Exception):
    """A job not answered when terminate() returned: CPython never sets it."""


def check_ending(sc):
    why = ENDING_NA.get((sc["wait"], sc["pool"]))
    if why:
        raise NotApplicable("wait=%s: %s" % (sc["wait"], why))


def _ready(h):
    return h.ready() if hasattr(h, "ready") else h.done()


def _wait(h, timeout):
    if hasattr(h, "ready"):
        h.wait(timeout)
    else:
        import concurrent.futures
        concurrent.futures.wait([h], timeout=timeout)


def call_then_end(self, pool, args, w):
    hs = [pool.submit(a) for a in args]
    self.handles = hs
    self.settling = True
    for i, h in enumerate(hs):
        while not _ready(h) and not self.settle.is_set():
            _wait(h, 0.05)
        if _ready(h):
            _answer_ready(self, pool, i, h)  # so a no-answer still shows what was answered
    self.settling = False
    pool.end(w)
    for i, h in enumerate(hs):
        if _ready(h):  # what is answered now (cancelled, say), before a result() blocks
            _answer_ready(self, pool, i, h)
    for i, h in enumerate(hs):
        if w == "terminate" and not _ready(h):
            self.answer(i, Terminated("not answered when terminate() returned"))
            continue
        _answer_ready(self, pool, i, h)


def _answer_ready(run, pool, i, h):
    try:
        run.answer(i, pool.get(h))
    except BaseException as e:
        run.answer(i, e)


# ----------------------------------------------------------------- pools

class Adapter:
    executor = False

    def __init__(self, pool, workers, start=None):
        self.name = pool
        self.workers = workers
        self.start = start  # the start method: None is the pool's default
        self.p = self.make(workers)

    def map(self, args, answer):
        # Pool.map's own chunking (ceil(jobs / (4 * workers)) per task
        # frame), as a caller gets it and as the models' map does.
        for i, r in enumerate(self.p.map(run_job, args, **chunk_kwargs())):
            answer(i, r)

    def submit(self, arg):
        return self.p.apply_async(run_job, (arg,))

    def end(self, wait):
        # multiprocessing.Pool.terminate / billiard.Pool.terminate
        self.p.terminate()

    def get(self, h):
        return h.get()

    def join(self):
        self.p.close()
        self.p.join()

    def warm(self):
        self.get(self.submit_noop())

    def submit_noop(self):
        return self.p.apply_async(noop, (0,))


class MPPool(Adapter):
    def make(self, n):
        import multiprocessing
        return multiprocessing.get_context(self.start).Pool(n, **lifecycle_kwargs(self.name))


class Billiard(Adapter):
    def make(self, n):
        import billiard
        import billiard.pool
        self.lost_worker_timeout = billiard.pool.LOST_WORKER_TIMEOUT
        return billiard.get_context(self.start).Pool(n, **lifecycle_kwargs(self.name))


class Executor(Adapter):
    def map(self, args, answer):
        # ProcessPoolExecutor.map(chunksize=N) (3.11 process.py): _get_chunks
        # and _process_chunk, one future per chunk; chunksize 1 by default.
        for i, r in enumerate(self.p.map(run_job, args, **chunk_kwargs())):
            answer(i, r)

    def submit(self, arg):
        return self.p.submit(run_job, arg)

    def get(self, h):
        return h.result()

    def join(self):
        self.p.shutdown(wait=True)

    def submit_noop(self):
        return self.p.submit(noop, 0)

    def end(self, wait):
        # ProcessPoolExecutor.shutdown(wait, *, cancel_futures)
        if wait == "shutdown":
            self.p.shutdown(wait=True)
        else:
            self.p.shutdown(wait=False, cancel_futures=True)


class PPE(Executor):
    def make(self, n):
        from concurrent.futures import ProcessPoolExecutor
        import multiprocessing
        kw = lifecycle_kwargs(self.name)
        if self.start:
            # Without one, 3.11 takes fork, or spawn under max_tasks_per_child.
            kw["mp_context"] = multiprocessing.get_context(self.start)
        return ProcessPoolExecutor(n, **kw)


class Loky(Executor):
    def make(self, n):
        from joblib.externals.loky import get_reusable_executor
        return get_reusable_executor(max_workers=n, context=self.start, **lifecycle_kwargs(self.name))

    def end(self, wait):
        # loky 3.3 shutdown(wait=True, kill_workers=False): kill_workers
        # is its terminate (pending futures get ShutdownExecutorError)
        self.p.shutdown(wait=True, kill_workers=(wait == "terminate"))


class Pebble(Executor):
    def make(self, n):
        import pebble
        import multiprocessing
        ctx = multiprocessing.get_context(self.start) if self.start else None
        return pebble.ProcessPool(max_workers=n, context=ctx, **lifecycle_kwargs(self.name))

    def map(self, args, answer):
        for i, r in enumerate(self.p.map(run_job, args, chunksize=_lifecycle.get("chunksize") or 1).result()):
            answer(i, r)

    def submit(self, arg):
        return self.p.schedule(run_job, args=(arg,))

    def submit_noop(self):
        return self.p.schedule(noop, args=(0,))

    def join(self):
        self.p.close()
        self.p.join()

    def end(self, wait):
        # pebble.ProcessPool.stop() then join(): its terminate
        self.p.stop()
        self.p.join()


# ------------------------------------------------ call styles (issue 13)
#
# callback: apply_async(f, (arg,), callback=, error_callback=) on the
# Pool-likes, submit (pebble: schedule) then add_done_callback on the
# executors; the caller waits for each job's result, then for its callback.
# A raise@callback fault makes that job's callback raise InjectedError, as a
# program's would; the caller records that error for the job.
# imap / imap_unordered: one imap over a generator that raises InjectedError
# instead of producing the job of a raise@input fault; the caller calls
# next() until StopIteration and records each item's value, or the error
# next() raised, against the item (ordered: the chunk at its position;
# unordered: the chunk of the job the error names). Jobs never delivered
# carry the error that ended the iteration, as the models record them.

NO_IMAP = {
    "py:ProcessPoolExecutor": "ProcessPoolExecutor has no imap: Executor.map submits every item before it returns "
                              "(fs = [self.submit(fn, *args) for args in zip(*iterables)])",
    "py:loky": "loky's executor is a ProcessPoolExecutor: no imap, and its map submits every item before it returns",
    "py:pebble": "pebble's ProcessPool has schedule and map (which reads its whole input into chunks first), no imap",
}


def check_call_style(sc):
    w, chunk = sc["wait"], sc.get("chunksize", 0)
    if "chunksize" in sc and (w not in ("map", "imap", "imap_unordered") or chunk < 1):
        raise BadInput("chunksize=%d: a chunk size (1 or more) is map's and imap's argument; wait=%s submits each job alone" % (chunk, w))
    for kind, phase, job in sc["faults"]:
        if phase == "callback" and w != "callback":
            raise BadInput("fault %s@%s:%s: a callback runs only with wait=callback" % (kind, phase, job))
        if phase == "input" and w not in ("imap", "imap_unordered"):
            raise BadInput("fault %s@%s:%s: an input iterable is read lazily only with wait=imap or wait=imap_unordered" % (kind, phase, job))
    if w in ("imap", "imap_unordered") and sc["pool"] in NO_IMAP:
        raise NotApplicable("wait=%s: %s" % (w, NO_IMAP[sc["pool"]]))


def _submit_cb(pool, arg, cb):
    if isinstance(pool, Executor):
        h = pool.submit(arg)
        h.add_done_callback(cb)  # Future._invoke_callbacks, after set_result / set_exception
        return h
    return pool.p.apply_async(run_job, (arg,), callback=cb, error_callback=cb)


def call_callbacks(run, pool, args):
    raising = {j for k, ph, j in run.sc["faults"] if ph == "callback"}
    ran = [threading.Event() for _ in args]
    raised = {}

    def callback(i):
        def cb(_):
            try:
                if i in raising:
                    try:
                        strike("raise", "callback", i)
                    except InjectedError as e:
                        raised[i] = e
                        raise
            finally:
                ran[i].set()
        return cb

    hs = [_submit_cb(pool, a, callback(i)) for i, a in enumerate(args)]
    for i, h in enumerate(hs):
        try:
            r = pool.get(h)
        except BaseException as e:
            r = e
        ran[i].wait()  # the caller waits for the callback too
        run.answer(i, raised.get(i, r))


def _input(run, args):
    raising = {j for k, ph, j in run.sc["faults"] if ph == "input"}
    for i, a in enumerate(args):
        if i in raising:
            strike("raise", "input", i)
        yield a


def _job_named(e):
    import re
    m = re.search(r" of job (\d+)", str(e))
    return int(m.group(1)) if m else None


def call_imap(run, pool, args):
    chunk = max(run.sc.get("chunksize", 0), 1)
    unordered = run.sc["wait"] == "imap_unordered"
    imap = pool.p.imap_unordered if unordered else pool.p.imap
    it = imap(run_job, _input(run, args), chunk)
    pos, last, delivered = 0, None, set()
    while True:
        try:
            r = next(it)
        except StopIteration:
            break
        except Exception as e:
            last = e
            j = _job_named(e) if unordered else pos
            if j is None:
                j = min(set(range(len(args))) - delivered, default=0)
            first = j - j % chunk
            for k in range(first, min(first + chunk, len(args))):
                run.answer(k, e)
                delivered.add(k)
            if not unordered:
                pos = first + chunk
            continue
        j = r[1] if isinstance(r, tuple) and len(r) == 3 else pos
        run.answer(j, r)
        delivered.add(j)
        pos += 1
    for k in range(len(args)):
        if k not in delivered and last is not None:
            run.answer(k, last)


ADAPTERS = {"py:mp.Pool": MPPool, "py:ProcessPoolExecutor": PPE, "py:billiard": Billiard, "py:loky": Loky, "py:pebble": Pebble}


# ------------------------------------------------------ process tracking

_procs = []
_procs_lock = threading.Lock()
_started = threading.Condition(_procs_lock)  # a worker was started
_closing = []  # set at teardown: no worker starts after it


def track_processes():
    """Record every process any pool starts (pid and Process object), so
    fates can be read after the pool reaped them."""
    import multiprocessing.process as mpp
    mods = [mpp]
    try:
        import billiard.process as bp
        mods.append(bp)
    except ImportError:
        pass
    for m in mods:
        start = m.BaseProcess.start

        # Under the lock, so that teardown never races a fork in flight.
        def tracked(self, _start=start):
            with _procs_lock:
                if _closing:
                    raise RuntimeError("poolhang driver: tearing down, no new workers")
                _start(self)
                _procs.append(self)
                _started.notify_all()
        m.BaseProcess.start = tracked


def proc_stat(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()


def read_proc(pid, name):
    try:
        with open("/proc/%d/%s" % (pid, name)) as f:
            return f.read().strip()
    except OSError:
        return ""


SYSCALLS = {"0": "read", "1": "write", "7": "poll", "23": "select", "202": "futex", "232": "epoll_wait",
            "270": "pselect6", "271": "ppoll", "281": "epoll_pwait", "34": "pause", "61": "wait4",
            "247": "waitid", "62": "kill", "230": "clock_nanosleep", "35": "nanosleep", "130": "rt_sigsuspend"}


def syscall_of(pid):
    """(name, first argument) of the call PID's main thread is blocked in."""
    f = read_proc(pid, "syscall").split()
    if not f or f[0] == "running":
        return ("running", None)
    if f[0] == "-1":
        return ("none", None)
    arg0 = int(f[1], 16) if len(f) > 1 else None
    return (SYSCALLS.get(f[0], "syscall " + f[0]), arg0)


def fd_target(pid, fd):
    try:
        return os.readlink("/proc/%d/fd/%d" % (pid, fd))
    except (OSError, TypeError):
        return ""


def fate(p):
    """A worker's fate, read without reaping it."""
    pid = p.pid
    out = {"pid": pid}
    st = proc_stat(pid)
    if st is not None and st[0] != "Z":
        out["fate"] = "alive"
        out["state"] = st[0]
        out["wchan"] = read_proc(pid, "wchan")
        name, arg = syscall_of(pid)
        out["syscall"] = name
        if name in ("read", "poll", "ppoll", "select", "write") and arg is not None:
            out["fd"] = "%d -> %s" % (arg, fd_target(pid, arg))
        return out
    if st is not None:
        out["state"] = "Z"
        out["zombie"] = True
        try:
            r = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        except ChildProcessError:
            r = None
        if r is not None:
            if r.si_code == os.CLD_EXITED:
                out.update(fate="exited", exit_code=r.si_status)
            else:
                out.update(fate="killed", signal=signal.Signals(r.si_status).name)
            return out
    popen = getattr(p, "_popen", None)
    rc = getattr(popen, "returncode", None)
    out["zombie"] = False
    if rc is None:
        out["fate"] = "gone"  # reaped by someone who did not record it
    elif rc < 0:
        out.update(fate="killed", signal=signal.Signals(-rc).name)
    else:
        out.update(fate="exited", exit_code=rc)
    return out


# --------------------------------------------------------------- the run

class Run:
    def __init__(self, sc, stall):
        self.sc = sc
        self.stall = stall
        self.lock = threading.Lock()
        self.events = 0
        self.progress = time.monotonic()
        self.log = []  # (t, event line)
        self.taken = {}  # job -> pids that decoded or ran it
        self.results_seen = set()
        self.struck = []
        self.init_failed = set()  # pids whose initializer raised
        self.answers = {}
        self.call_error = None
        self.done = threading.Event()
        self.t0 = time.monotonic()
        self.efd, self.ebuf, self.elock = None, b"", threading.Lock()
        self.settling = False  # the caller of an ending style is in its bounded get
        self.settle = threading.Event()  # set when that get gives up
        self.hello = []  # worker pids, from their initializer
        self.start_lock = set()  # workers at HELD that have not got past it
        self.pool_parent = 0  # parent-killed: the forked parent of the pool
        self.parent_killed = threading.Event()
        self.called = threading.Event()  # the caller has started (sigstop-cont waits for it)

    # The events listener: every worker event is progress; a sigkill strike is
    # answered with a real SIGKILL.
    def listen(self, fd):
        _driver_tids.add(threading.get_native_id())
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            poller.poll()
            self.drain()

    def drain(self):
        """Read and handle every event in the pipe. Called by the listener
        and, before the outcome is written, by the main thread: a worker
        reports before it answers, so its report is in the pipe by then."""
        with self.elock:
            while True:
                try:
                    chunk = os.read(self.efd, 65536)
                except BlockingIOError:
                    return
                if not chunk:
                    return
                self.ebuf += chunk
                while b"\n" in self.ebuf:
                    line, self.ebuf = self.ebuf.split(b"\n", 1)
                    self.on_event(line.decode().split())

    def on_event(self, f):
        with self.lock:
            self.events += 1
            now = time.monotonic()
            if not (_lifecycle.get("initializer") and f[0] in ("hello", "init-failed")):
                self.progress = now  # a worker dying in its initializer moves nothing
            self.log.append((round((now - self.t0) * 1000, 1), " ".join(f)))
        if f[0] == "init-failed":
            self.init_failed.add(int(f[1]))
        elif f[0] == "hello":
            self.hello.append(int(f[1]))
        elif f[0] == "start-lock":
            self.start_lock.add(int(f[1]))
        elif f[0] == "start-lock-taken":
            self.start_lock.discard(int(f[1]))
        if f[0] in ("run",):
            self.taken.setdefault(int(f[1]), []).append(int(f[2]))
        elif f[0] == "result":
            self.results_seen.add(int(f[1]))
        elif f[0] == "strike":
            job, phase, kind, pid = int(f[1]), f[2], f[3], int(f[4])
            self.struck.append({"job": job, "phase": phase, "kind": kind, "pid": pid})
            if job >= 0 and phase != "result-decode":
                self.taken.setdefault(job, []).append(pid)
            if kind == "sigkill" and not in_parent_pid(pid):
                os.kill(pid, signal.SIGKILL)
            if kind == "sigstop-cont" and not in_parent_pid(pid):
                threading.Thread(target=continue_when_alone, args=(self, self.struck[-1]),
                                 name="poolhang-continuer", daemon=True).start()
            if kind == "parent-killed" and self.pool_parent:
                os.kill(self.pool_parent, signal.SIGKILL)  # the fault: kill -9 of the pool's parent
                self.parent_killed.set()

    def answer(self, i, r):
        with self.lock:
            self.answers[i] = r
            self.progress = time.monotonic()

    def call(self, pool, args):
        try:
            w = self.sc["wait"]
            if w == "callback":
                call_callbacks(self, pool, args)
            elif w in ("imap", "imap_unordered"):
                call_imap(self, pool, args)
            elif w in ENDING:
                self.call_then_end(pool, args, w)
            elif w == "map":
                pool.map(args, self.answer)
            else:
                hs = [pool.submit(a) for a in args]
                if w == "join":
                    pool.join()
                for i, h in enumerate(hs):
                    try:
                        self.answer(i, pool.get(h))
                    except BaseException as e:
                        self.answer(i, e)
        except BaseException as e:
            self.call_error = e
        finally:
            self.done.set()


Run.call_then_end = call_then_end


def in_parent_pid(pid):
    return pid == os.getpid()


def signature(run):
    """What counts as progress: an event, an answer, a worker started or
    ended, CPU time burnt by a worker (a worker importing its modules on a
    loaded machine is slow, not stuck), or a worker or pool thread found
    starved (runnable, and given no CPU since the last sample), or bytes
    read by a pool thread of the parent. Parent threads' CPU time does
    not count: some pools' parent threads poll on timers forever."""
    with _procs_lock:
        ps = list(_procs)
    states = []
    cpu = 0
    runnable = False
    for p in ps:
        st = proc_stat(p.pid)
        live = st is not None and st[0] != "Z"
        states.append((p.pid, live))
        if live:
            cpu += int(st[11]) + int(st[12])  # utime, stime (fields 14, 15)
            runnable = runnable or any_runnable(p.pid, ())
    # A starved pool thread in the parent is one the machine has not
    # served yet: load, not a hang.
    runnable = runnable or any_runnable(os.getpid(), _driver_tids)
    read = pool_threads_read(_driver_tids)
    with run.lock:
        return (run.events, len(run.answers), tuple(states), read), cpu, runnable


def pool_threads_read(skip):
    """Bytes the parent's pool threads have read (rchar of each thread but
    the driver's own): a result handler draining a large result on a
    loaded machine is slow, not stuck. A thread that polls on a timer
    reads nothing, so this does not count it."""
    total = 0
    base = "/proc/%d/task" % os.getpid()
    try:
        tids = os.listdir(base)
    except OSError:
        return 0
    for tid in tids:
        if int(tid) in skip:
            continue
        try:
            with open("%s/%s/io" % (base, tid)) as f:
                for line in f:
                    if line.startswith("rchar:"):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


_driver_tids = set()  # the driver's own threads: the monitor and the listener


# STARVED is the share of a sample's wall time that the pool's threads,
# summed, must have spent runnable but not running (schedstat's run
# delay) for the sample to count as starved; STARVED_CAP bounds how long
# starvation can hold off a no-answer, in stall limits.
STARVED = 0.5
STARVED_CAP = 6


class StarvationGauge:
    """Tells a pool that waits for a CPU from one that waits for nothing.
    A stuck pool's threads sleep: a poller wakes for microseconds, so its
    run delay stays a small share of the wall time even on a loaded
    machine, while a pool that has work to do but no CPU (an interpreter
    importing its modules, a result being unpickled, with two cores
    shared by the other packages' tests) is runnable all the while, and
    its run delay grows with the wall clock. The sum over the parent's
    pool threads and, unless only the parent counts (a pool whose workers
    die in their initializer restarts them for ever), every live worker's
    threads, since the last sample."""

    def __init__(self, workers):
        self.workers = workers
        self.last = (self.total(), time.monotonic())

    def total(self):
        pids = [os.getpid()]
        if self.workers:
            with _procs_lock:
                pids += [p.pid for p in _procs]
        ns = 0
        for pid in pids:
            skip = _driver_tids if pid == os.getpid() else ()
            try:
                tids = os.listdir("/proc/%d/task" % pid)
            except OSError:
                continue
            for tid in tids:
                if int(tid) in skip:
                    continue
                try:
                    with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                        ns += int(f.read().split()[1])
                except (OSError, ValueError, IndexError):
                    pass
        return ns

    def starved(self):
        ns, t = self.total(), time.monotonic()
        (ns0, t0), self.last = self.last, (ns, t)
        # A thread that ended takes its delay with it: never below zero.
        return max(ns - ns0, 0) >= STARVED * (t - t0) * 1e9


_sched = {}  # tid -> (run ns, wait ns) at the last sample


def any_runnable(pid, skip):
    """Whether a thread of pid is starved: runnable (state R), and since the
    last sample it waited for a CPU and did not run at all. A thread that
    spins (mp.Pool's worker handler does, once its result handler died
    with bytes left in the result pipe) gets some CPU in every sample
    unless the machine is overloaded, so it does not count as progress."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return False
    starved = False
    for tid in tids:
        if int(tid) in skip:
            continue
        base = "/proc/%d/task/%s/" % (pid, tid)
        st = proc_stat_path(base + "stat")
        try:
            with open(base + "schedstat") as f:
                run, wait = (int(x) for x in f.read().split()[:2])
        except (OSError, ValueError):
            continue
        prev = _sched.get(tid)
        _sched[tid] = (run, wait)
        if st is not None and st[0] == "R" and prev is not None and run == prev[0] and wait > prev[1]:
            starved = True
    return starved


def proc_stat_path(path):
    try:
        with open(path) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()


def workers_alive():
    with _procs_lock:
        ps = list(_procs)
    return [p.pid for p in ps if (proc_stat(p.pid) or ["Z"])[0] != "Z"]


def find_idle(pool, phase, deadline):
    """The idle worker to strike: for idle-lock-holder the one blocked in
    read/poll on the task queue (SimpleQueue.get and Queue.get hold the
    read lock around that call), for idle-lock-waiter one blocked on the
    lock's futex (or, where idle workers hold no lock, any idle one). Found
    from /proc/PID/syscall once every worker is blocked, twice in a row."""
    last = None
    while time.monotonic() < deadline:
        pids = workers_alive()
        calls = {pid: syscall_of(pid) for pid in pids}
        holders = [p for p, (c, _) in calls.items() if c in ("read", "poll", "ppoll", "select", "pselect6")]
        waiters = [p for p, (c, _) in calls.items() if c == "futex"]
        no_lock = pool == "py:pebble"
        ready = len(pids) == pool_workers(pool) and len(holders) + len(waiters) == len(pids)
        if ready and not no_lock:
            ready = len(holders) == 1
        state = (tuple(sorted(pids)), tuple(sorted(holders)))
        if ready and state == last:
            if phase == "idle-lock-holder":
                return holders[0], calls
            pick = sorted(waiters if not no_lock else holders + waiters)
            if pick:
                return pick[0], calls
        last = state if ready else None
        time.sleep(0.005)
    raise RuntimeError("idle workers did not settle: %s" % {p: syscall_of(p) for p in workers_alive()})


_nworkers = {}


def pool_workers(pool):
    return _nworkers[pool]


def main(argv):
    stall = 2.0
    args = argv[1:]
    if args and args[0] == "--probe":
        print(json.dumps(probe()))
        return 0
    if len(args) >= 2 and args[0] == "--stall":
        try:
            stall = max(2.0, float(args[1]))
        except ValueError:
            return fail(2, "error", "--stall %r is not a number of seconds" % args[1])
        args = args[2:]
    if len(args) != 1:
        return fail(2, "error", "usage: poolhang_driver.py [--stall SECONDS] 'SCENARIO' | --probe")
    try:
        sc = parse(args[0])
    except BadInput as e:
        return fail(2, "error", "scenario: %s" % e)
    except NotApplicable as e:
        return fail(3, "na", str(e))
    mod = MODULES.get(sc["pool"])
    if mod:
        try:
            __import__(mod)
        except ImportError as e:
            return fail(2, "error", "%s needs the Python module %s, which does not import in %s (%s); install it with apt-get install python3-billiard python3-joblib python3-pebble" % (sc["pool"], mod, sys.executable, e))
    try:
        return execute(sc, stall)
    except Exception:
        # A driver bug, not a pool's outcome: say so, and leave no worker.
        print(json.dumps({"error": "driver failed: " + traceback.format_exc()[-2000:]}))
        sys.stdout.flush()
        teardown()
        # Not sys.exit: the pool's threads (and multiprocessing's atexit
        # joins) can block the interpreter's shutdown for good, and the Go
        # side waits for this process to end.
        sys.stderr.flush()
        os._exit(4)


def fail(code, key, msg):
    print(json.dumps({key: msg}))
    return code


def probe():
    out = {"python": sys.version.split()[0], "executable": sys.executable, "pools": {}}
    for name in POOLS:
        mod = MODULES.get(name)
        if not mod:
            out["pools"][name] = {"ok": True, "version": sys.version.split()[0]}
            continue
        try:
            m = __import__(mod, fromlist=["__version__"])
            out["pools"][name] = {"ok": True, "version": getattr(m, "__version__", "")}
        except Exception as e:
            out["pools"][name] = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    return out


def execute(sc, stall):
    # Workers open the pipe through /proc, so a spawned worker (loky) finds
    # it too, and nothing is left on disk.
    efd, wfd = os.pipe()
    os.environ["POOLHANG_EVENTS"] = "/proc/%d/fd/%d" % (os.getpid(), wfd)
    os.environ["POOLHANG_PARENT"] = str(os.getpid())
    idle = [(k, ph) for k, ph, j in sc["faults"] if j is None and ph in IDLE_PHASES]
    if idle:
        os.environ["POOLHANG_IDLE_KIND"] = idle[0][0]
    held = None
    if any(k == "fork-held-lock" for k, _, _ in sc["faults"]):
        os.environ["POOLHANG_FORK_LOCK"] = "1"
        held = hold_while_starting(sc["workers"])

    run = Run(sc, stall)
    os.set_blocking(efd, False)
    run.efd = efd
    threading.Thread(target=run.listen, args=(efd,), name="poolhang-listener", daemon=True).start()
    track_processes()
    patch_connections()
    for kind, phase, job in sc["faults"]:
        if kind == "reader-memory-error":
            _reader_fault.update(job=job, min=sc["payload"] + BIG + BIG // 2)

    jobfaults = {}
    for kind, phase, job in sc["faults"]:
        if job is None or phase in CALLER_PHASES:
            continue  # idle faults strike a worker; the caller's phases are its own code
        if kind == "reader-memory-error":
            phase = "reader-memory"
        elif phase == "result-encode" and kind in MIDFRAME_AT_RESULT_ENCODE:
            phase = "result-write"
        jobfaults.setdefault(job, []).append((kind, phase))
    args = []
    for i in range(sc["jobs"]):
        fs = jobfaults.get(i, [])
        payload = b"p" * sc["payload"] if sc["payload"] else None
        arg = [i, payload, tuple((k, p) for k, p in fs if p not in ("task-encode", "task-decode"))]
        for k, p in fs:
            if p in ("task-encode", "task-decode"):
                arg.append(Trap(k, p, i))
        args.append(tuple(arg))

    _nworkers[sc["pool"]] = sc["workers"]
    _lifecycle.clear()
    _lifecycle.update((k, sc[k]) for k in LIFECYCLE_KEYS if sc.get(k))
    if any(k == "parent-killed" for k, _, _ in sc["faults"]):
        return execute_parent_killed(sc, stall, run, args)
    out = {"scenario": scenario_text(sc), "pool": sc["pool"], "models": POOLS[sc["pool"]],
           "python": sys.version.split()[0], "stall_s": stall}
    pool = ADAPTERS[sc["pool"]](sc["pool"], sc["workers"], sc.get("start"))
    limit = stall + getattr(pool, "lost_worker_timeout", 0.0)
    if hasattr(pool, "lost_worker_timeout"):
        out["grace_s"] = pool.lost_worker_timeout
        out["grace_why"] = "billiard fails a job whose worker was lost only after lost_worker_timeout (billiard/pool.py LOST_WORKER_TIMEOUT), in case its result is still in the pipe"
    out["limit_s"] = limit
    if sc.get("start"):
        out["start"] = sc["start"]
    if held is not None:
        out["fork_lock"] = held
    if idle:
        kind, phase = idle[0]
        if sc["pool"] in ("py:ProcessPoolExecutor", "py:loky", "py:pebble"):
            pool.warm()  # these start their workers on the first submit
        pid, calls = find_idle(sc["pool"], phase, time.monotonic() + 10)
        out["idle_strike"] = {"pid": pid, "phase": phase, "kind": kind,
                              "workers": {str(p): c[0] for p, c in calls.items()}}
        run.progress = time.monotonic()
        if kind == "sigkill":
            run.on_event(["strike", "-1", phase, kind, str(pid)])
        else:
            os.kill(pid, IDLE_SIGNAL)
        # The fault has struck when the worker is dead (a zombie, or reaped
        # by its pool), or for sigstop stopped (T); only then is the map
        # submitted.
        deadline = time.monotonic() + 10
        struck = ("T",) if kind in ("sigstop", "sigstop-cont") else ("Z",)
        while (proc_stat(pid) or ["Z"])[0] not in struck:
            if time.monotonic() > deadline:
                raise RuntimeError("idle worker %d did not die of %s" % (pid, kind))
            time.sleep(0.001)

    if any(k == "sigint" for k, _, _ in sc["faults"]):
        # A Ctrl-C reaches only the main thread of a Python process, so the
        # caller is the main thread here, as in a program whose user
        # presses Ctrl-C during pool.map; the monitor watches from a thread
        # and ends the process itself.
        threading.main_thread().name = "poolhang-caller"
        t_call = time.monotonic()
        run.called.set()
        mon = threading.Thread(target=monitor, args=(run, sc, pool, limit, out, threading.main_thread(), t_call),
                               name="poolhang-monitor", daemon=True)
        mon.start()
        run.call(pool, args)
        while True:
            try:
                mon.join()
            except KeyboardInterrupt:
                pass  # a second Ctrl-C: the monitor still ends the run
    caller = threading.Thread(target=run.call, args=(pool, args), name="poolhang-caller", daemon=True)
    t_call = time.monotonic()
    run.called.set()
    caller.start()
    monitor(run, sc, pool, limit, out, caller, t_call)


def monitor(run, sc, pool, limit, out, caller, t_call):
    """Watch the run until the caller is answered or nothing moved for the
    limit, write the outcome, tear down and end the process."""
    _driver_tids.add(threading.get_native_id())
    sign = init_signature if _lifecycle.get("initializer") else signature
    last, cpu, _ = sign(run)
    gauge = StarvationGauge(workers=sign is signature)
    moved = time.monotonic()
    while not run.done.wait(0.05):
        sig, now_cpu, runnable = sign(run)
        starved = gauge.starved()
        now = time.monotonic()
        if sig != last or now_cpu >= cpu + 2 or runnable:
            last, cpu, moved = sig, now_cpu, now
            with run.lock:
                run.progress = now
        elif starved and now - moved < STARVED_CAP * limit:
            # Waiting for a CPU is not being stuck: the stall clock
            # starts again, up to STARVED_CAP times the limit.
            with run.lock:
                run.progress = now
        with run.lock:
            quiet = time.monotonic() - run.progress
        if quiet >= limit and run.settling:
            # The caller's bounded get gives up: it ends the pool now.
            run.settling = False
            run.settle.set()
            with run.lock:
                run.progress = time.monotonic()
            continue
        if quiet >= limit:
            break
    t_end = time.monotonic()
    answered = run.done.is_set()
    run.drain()
    if not answered:
        # An ending style's caller is blocked on one result; what the pool
        # answered meanwhile (futures cancelled by shutdown) is shown too.
        for i, h in enumerate(getattr(run, "handles", ())):
            if i not in run.answers and _ready(h):
                _answer_ready(run, pool, i, h)
    out["wall_ms"] = round((t_end - run.t0) * 1000, 1)
    if answered:
        out["answer_ms"] = round((t_end - t_call) * 1000, 1)
    else:
        out["no_progress_ms"] = round(quiet * 1000, 1)
        out["threads"] = thread_stacks(caller)
    out["jobs"] = job_outcomes(run, sc, answered)
    if run.call_error is not None:
        out["call_error"] = error_of(run.call_error)
    out["verdict"] = verdict(out["jobs"], answered, run.call_error)
    out["struck"] = run.struck
    with _procs_lock:
        ps = list(_procs)
    out["workers"] = [fate(p) for p in ps]
    lifecycle_evidence(out, run)
    held = out.get("fork_lock")
    if held is not None:
        # The evidence of fork-held-lock: which workers reached HELD and
        # never got past it, and that the thread holding it does not
        # exist in them (a process's threads are /proc/PID/task/TID).
        blocked = sorted(p for p in run.start_lock if (proc_stat(p) or ["Z"])[0] != "Z")
        held["blocked"] = blocked
        held["holder_in_worker"] = any(os.path.exists("/proc/%d/task/%d" % (p, held.get("holder_tid", 0))) for p in blocked)
        held["worker_threads"] = {str(p): len(os.listdir("/proc/%d/task" % p)) for p in blocked if os.path.isdir("/proc/%d/task" % p)}
    with run.lock:
        out["events"] = ["%sms %s" % e for e in run.log[:200]]
    lost = [j for j in out["jobs"] if j["outcome"] == "unanswered" and j.get("taken_by")]
    if not answered:
        out["lost"] = [{"job": j["job"], "taken_by": j["taken_by"]} for j in lost]
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    teardown()
    os._exit(0)


PR_SET_CHILD_SUBREAPER = 36


def execute_parent_killed(sc, stall, run, args):
    """parent-killed: this process becomes a child subreaper and forks the
    pool's parent, which runs the pool and calls it. When the worker that
    took the targeted job reports that it reached task-run, the pool's
    parent is killed with SIGKILL, its workers are reparented here, and
    they are watched: each that ends is reaped and its end recorded; those
    still alive when nothing moved for the stall limit (or at the backstop)
    are orphans, recorded as ps and lsof would show them, then killed."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    out = {"scenario": scenario_text(sc), "pool": sc["pool"], "models": POOLS[sc["pool"]],
           "python": sys.version.split()[0], "stall_s": stall, "limit_s": stall, "subreaper": os.getpid()}
    pid = os.fork()
    if pid == 0:  # the pool's parent: run the pool, call it, be killed
        try:
            os.environ["POOLHANG_PARENT"] = str(os.getpid())
            os.close(run.efd)
            # The listener thread is not in this process: a lock it held
            # at the fork would be held for good here (the fork-held lock).
            run.lock = threading.Lock()
            pool = ADAPTERS[sc["pool"]](sc["pool"], sc["workers"], sc.get("start"))
            run.call(pool, args)
        finally:
            os._exit(0)  # answered before the fault struck: the driver reports it
    run.pool_parent = pid
    t0 = time.monotonic()
    while not run.parent_killed.is_set():
        r = os.waitpid(pid, os.WNOHANG)
        if r[0] == pid:
            raise RuntimeError("the pool's parent ended before parent-killed struck (status %d)" % r[1])
        if time.monotonic() - t0 > 240:  # a bound for a machine under heavy load, not a trigger
            raise RuntimeError("parent-killed did not strike within 240 s")
        run.parent_killed.wait(0.01)
    os.waitpid(pid, 0)
    killed_at = time.monotonic()
    ended = {}  # pid -> fate, for workers that ended after the parent died
    backstop = killed_at + max(90.0, 2 * stall)  # past billiard's 30 s of retries and loky's idle timeout and exit lock
    last, cpu, progress = None, 0, time.monotonic()
    while True:
        while True:
            try:
                p, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if p == 0:
                break
            if os.WIFSIGNALED(status):
                ended[p] = {"pid": p, "fate": "killed", "signal": signal.Signals(os.WTERMSIG(status)).name}
            else:
                ended[p] = {"pid": p, "fate": "exited", "exit_code": os.WEXITSTATUS(status)}
        live = [w for w in run.hello if w not in ended and (proc_stat(w) or ["Z"])[0] != "Z"]
        if not live and all(w in ended or proc_stat(w) is None for w in run.hello):
            break
        sig = (run.events, tuple(live))
        now_cpu = sum(int(st[11]) + int(st[12]) for st in (proc_stat(w) for w in live) if st)
        # A worker asleep on a timer will move by itself: that is not an
        # orphan's wait (billiard's _ensure_messages_consumed retries every
        # 0.1 s for 30 s before the worker exits; loky's workers wait for
        # a call with its 10 s idle timeout, then exit).
        timed = any(in_timed_wait(w) for w in live)
        if sig != last or now_cpu >= cpu + 2 or timed:
            last, cpu, progress = sig, now_cpu, time.monotonic()
        if time.monotonic() - progress >= stall or time.monotonic() >= backstop:
            break
        time.sleep(0.01)  # sampling, not a trigger: the fault has struck
    out["after_kill_ms"] = round((time.monotonic() - killed_at) * 1000, 1)
    holders = pipe_holders()
    workers = []
    for w in run.hello:
        if w in ended:
            workers.append(ended[w])
            continue
        f = fate(type("P", (), {"pid": w})())
        if f.get("fate") == "alive":
            st = proc_stat(w)
            f["ppid"] = int(st[1]) if st else 0
            f["orphan"] = True
            f["holders"] = other_end(w, f, holders)
        workers.append(f)
    orphans = [w for w in workers if w.get("orphan")]
    out["verdict"] = "orphans" if orphans else "workers-exited"
    out["workers"] = workers
    out["struck"] = run.struck
    run.drain()
    out["jobs"] = [{"job": i, "outcome": "unanswered", "result_seen": False} for i in range(sc["jobs"])]
    with run.lock:
        out["events"] = ["%sms %s" % e for e in run.log[:200]]
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    end_children()
    os._exit(0)


def in_timed_wait(pid):
    """Whether a thread of pid sleeps in a call that a timeout ends:
    nanosleep, or futex/poll/select/epoll with a timeout (from the call's
    arguments in /proc/PID/task/TID/syscall)."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return False
    for tid in tids:
        f = read_proc(pid, "task/%s/syscall" % tid).split()
        if len(f) < 7 or f[0] in ("running", "-1"):
            continue
        name = SYSCALLS.get(f[0], "")
        a = [int(x, 16) for x in f[1:7]]
        if name in ("nanosleep", "clock_nanosleep") or \
                (name == "futex" and a[3] != 0) or \
                (name == "poll" and a[2] & 0xffffffff != 0xffffffff) or \
                (name in ("ppoll",) and a[2] != 0) or \
                (name in ("select", "pselect6") and a[4] != 0) or \
                (name in ("epoll_wait", "epoll_pwait") and a[3] & 0xffffffff != 0xffffffff):
            return True
    return False


def pipe_holders():
    """inode -> [(pid, access mode)] for every open pipe, as lsof sees it."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % d)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink("/proc/%s/fd/%s" % (d, fd))
                if not link.startswith("pipe:["):
                    continue
                with open("/proc/%s/fdinfo/%s" % (d, fd)) as f:
                    flags = [l for l in f.read().split("\n") if l.startswith("flags:")]
                mode = int(flags[0].split()[1], 8) & 3 if flags else -1
            except (OSError, ValueError):
                continue
            out.setdefault(link, []).append((int(d), mode))
    return out


def other_end(pid, f, holders):
    """Who holds the other end of the pipe the orphan is blocked on: for a
    read, the writers; for a write, the readers (lsof's answer)."""
    fd = f.get("fd", "")
    if "pipe:[" not in fd:
        return ""
    link = fd.split("-> ", 1)[1]
    want = 0 if f.get("syscall") == "write" else 1  # O_RDONLY readers, O_WRONLY writers
    pids = sorted({p for p, m in holders.get(link, []) if m in (want, 2)})
    return ",".join(str(p) for p in pids)


def end_children():
    """Kill every process reparented here and reap it: nothing is left."""
    me = os.getpid()
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and int(st[1]) == me:
                try:
                    os.kill(int(d), signal.SIGKILL)
                except OSError:
                    pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def hold_while_starting(n):
    """fork-held-lock: a parent thread takes HELD and keeps it until the
    pool has started n workers, as a thread logging a message holds
    logging's lock while another thread forks. Returns what the outcome
    records: the holder thread's id, which exists only in this process."""
    rec = {}
    taken = threading.Event()

    def holder():
        rec["holder_tid"] = threading.get_native_id()
        with HELD:
            taken.set()
            with _started:
                _started.wait_for(lambda: len(_procs) >= n)
        rec["released"] = True

    threading.Thread(target=holder, name="poolhang-lock-holder", daemon=True).start()
    taken.wait()
    return rec


def scenario_text(sc):
    s = "pool=%s workers=%d jobs=%d" % (sc["pool"], sc["workers"], sc["jobs"])
    if sc["payload"]:
        s += " payload=%d" % sc["payload"]
    for k in LIFECYCLE_KEYS:
        if sc.get(k):
            s += " %s=%s" % (k, sc[k])
    if sc.get("start"):
        s += " start=" + sc["start"]
    s += " wait=" + sc["wait"]
    for k, ph, j in sc["faults"]:
        s += " fault=%s@%s" % (k, ph) + ("" if j is None else ":%d" % j)
    return s


def error_of(e):
    return {"class": type(e).__module__ + "." + type(e).__qualname__ if type(e).__module__ != "builtins" else type(e).__qualname__,
            "message": str(e)[:500]}


def job_outcomes(run, sc, answered):
    out = []
    for i in range(sc["jobs"]):
        j = {"job": i}
        r = run.answers.get(i)
        want = b"p" * sc["payload"] if sc["payload"] else i * i
        if any(k == "big-result" and j == i for k, _, j in sc["faults"]):
            want = big_value()
        if i in run.answers and isinstance(r, BaseException):
            j["outcome"] = "error"
            j.update(error_of(r))
        elif i in run.answers:
            if isinstance(r, list) and len(r) == 1:
                r = r[0]  # pebble's map runs chunks
            ok = isinstance(r, tuple) and len(r) == 3 and r[0] == "res" and r[1] == i and r[2] == want
            j["outcome"] = "value" if ok else "wrong"
            j["value"] = r[2] if ok and isinstance(r[2], int) else ("%d bytes" % len(r[2]) if ok else repr(r)[:200])
        elif answered and run.call_error is not None:
            j["outcome"] = "call-raised"  # the caller's one call raised before delivering this job
        else:
            j["outcome"] = "unanswered"
        j["result_seen"] = i in run.results_seen
        if i in run.taken:
            j["taken_by"] = sorted(set(run.taken[i]))
        out.append(j)
    return out


def verdict(jobs, answered, call_error):
    if not answered:
        return "no-answer"
    if call_error is None and all(j["outcome"] == "value" for j in jobs):
        return "completed"
    if call_error is None and any(j["outcome"] == "wrong" for j in jobs):
        return "wrong-value"
    return "raised"


def thread_stacks(caller):
    names = {t.ident: t.name for t in threading.enumerate()}
    me = threading.get_ident()
    out = []
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        out.append({"thread": names.get(ident, "?"), "stack": [l.rstrip() for l in traceback.format_stack(frame)][-8:]})
    return out


def teardown():
    """Kill and reap every worker this run started. A pool may replace a
    killed worker meanwhile (mp.Pool's worker handler does), so new ones are
    killed as they start. The Go side still kills the whole process group
    and reaps whatever is left."""
    with _procs_lock:
        _closing.append(True)
        ps = list(_procs)
    for p in ps:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except OSError:
            pass
    for p in ps:
        try:
            os.waitpid(p.pid, 0)
        except OSError:
            pass


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import poolhang_driver
    sys.exit(poolhang_driver.main(sys.argv))


# ------------------------------------------------------ sigstop-cont

# CONT_SETTLE: how long nothing may have moved before the stopped worker
# is continued; below the stall limit (at least 2 s), after which the
# monitor would call the run a no-answer.
CONT_SETTLE = 0.5
BLOCKED = ("read", "poll", "ppoll", "select", "pselect6", "futex", "epoll_wait", "epoll_pwait", "pause",
           "wait4", "waitid", "rt_sigsuspend")


def stop_until_continued(job, phase):
    """Stop this process with a real SIGSTOP and return once a SIGCONT has
    continued it. The SIGCONT's handler writes to a wakeup fd (the C-level
    handler, set_wakeup_fd), so the return waits for the SIGCONT itself,
    whenever it arrives, and never for kill() alone: in a process with
    other threads, kill() can return before the group stop reaches this
    thread."""
    if threading.current_thread() is not threading.main_thread():
        # Signal handlers and the wakeup fd are the main thread's; a
        # worker with one thread stops before kill() returns.
        os.kill(os.getpid(), signal.SIGSTOP)
        emit("resumed", job, phase, os.getpid())
        return
    r, w = os.pipe()
    os.set_blocking(w, False)
    old_handler = signal.signal(signal.SIGCONT, lambda *a: None)
    old_fd = signal.set_wakeup_fd(w)
    try:
        os.kill(os.getpid(), signal.SIGSTOP)
        select.select([r], [], [])
    finally:
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGCONT, old_handler)
        os.close(r)
        os.close(w)
    emit("resumed", job, phase, os.getpid())


def continue_when_alone(run, hit):
    """sigstop-cont's named point, as the models' runner has it: send the
    real SIGCONT once the stopped worker is all that is in the way, that
    is once it is stopped (T), every other live worker is blocked in a
    system call, and nothing (no event, no answer, nothing the monitor
    counts as progress) has moved for CONT_SETTLE, on two samples alike.
    Before the caller has started (an idle fault strikes first) nothing
    is in the way yet."""
    _driver_tids.add(threading.get_native_id())
    pid = hit["pid"]
    run.called.wait()
    last = None
    while not run.done.is_set():
        st = (proc_stat(pid) or ["Z"])[0]
        if st in ("Z", "X"):
            hit["continued"] = False
            return  # ended while stopped (killed by its pool or the teardown)
        others = {p: syscall_of(p)[0] for p in workers_alive() if p != pid}
        with run.lock:
            quiet = time.monotonic() - run.progress
            state = (run.events, len(run.answers), tuple(sorted(others.items())))
        ready = st == "T" and all(c in BLOCKED for c in others.values()) and quiet >= CONT_SETTLE
        if ready and state == last:
            hit.update(state_before=st, others={str(p): c for p, c in others.items()}, quiet_ms=round(quiet * 1000, 1))
            os.kill(pid, signal.SIGCONT)
            hit["continued"] = True
            run.on_event(["continued", str(hit["job"]), hit["phase"], str(pid)])
            return
        last = state if ready else None
        time.sleep(0.02)
