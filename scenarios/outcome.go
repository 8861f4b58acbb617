package scenarios

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/poolhang/poolhang/pools"
)

// A Verdict is how a scenario ended for the caller.
type Verdict string

const (
	// Completed: every job has its correct value.
	Completed Verdict = "completed"
	// Raised: every job was resolved, some with errors.
	Raised Verdict = "raised"
	// Hang: proven from the snapshots: the caller can never be answered.
	Hang Verdict = "hang"
	// HangTimeout: the wall-clock backstop expired without a proof or an
	// answer. It never decides a cell of the matrix.
	HangTimeout Verdict = "hang-timeout"
)

// Job states.
const (
	JobOK         = "ok"
	JobError      = "error"
	JobUnresolved = "unresolved"
	// A failfast map (ProcessPoolExecutor.map) raises at the first failed
	// job in order; each later job is then cancelled, if it was still
	// pending (pools.ErrMapCancelled), or not delivered, if it was running
	// or done (pools.ErrNotDelivered). Neither is an error of the job.
	JobCancelled    = "cancelled"
	JobNotDelivered = "not-delivered"
)

// Error kinds a job can end with.
const (
	ErrKindTask       = "task-error"
	ErrKindExit       = "exit-request"
	ErrKindBroken     = "broken-pool"
	ErrKindEncode     = "encode-error"
	ErrKindWorkerLost = "worker-lost"
	ErrKindDeadline   = "deadline"
	ErrKindTerminated = "terminated"
	ErrKindRestart    = "restart-budget"
	ErrKindRead       = "read-error"
	ErrKindWrongValue = "wrong-value"
	// ErrKindInterrupted: the caller's call raised KeyboardInterrupt (a
	// Ctrl-C ended its wait) before it delivered the job.
	ErrKindInterrupted = "interrupted"
	ErrKindOther       = "other"
	// The caller's own code raised (callstyles.go): its callback, or the
	// imap's input iterable.
	ErrKindCallback = "callback-error"
	ErrKindInput    = "input-error"
)

// JobOutcome is one job's end.
type JobOutcome struct {
	Job   int
	State string // JobOK, JobError, JobUnresolved, JobCancelled or JobNotDelivered
	Kind  string // the error's kind, for JobError
	Error string
}

// WorkerFate is what became of one worker process.
type WorkerFate struct {
	PID int
	// Slot is the worker's place in the pool, from 1 in start order.
	Slot   int
	Exit   string // "exit code 3", "killed by SIGSEGV"; "" while alive
	Zombie bool   // ended, not reaped by the pool (ps: <defunct>)
	Alive  bool
	// Proc is the kernel's state letter from /proc (S sleeping, Z zombie).
	Proc  string
	State string // what it was doing or blocked on
	Job   int
}

// Outcome is the result of running a scenario.
type Outcome struct {
	Scenario Scenario
	Verdict  Verdict
	Jobs     []JobOutcome
	Workers  []WorkerFate
	Causes   []Cause
	Stuck    []string
	// Diagnosis is the account of one run: every stuck party, every
	// worker by its place in the pool (w1, w2). Summary keeps what every
	// run of the scenario shows, workers named by role; the committed
	// matrix records it.
	Diagnosis string
	Summary   string
	// Wall is the whole run: starting the pool to the end of teardown.
	Wall time.Duration
	// ToVerdict is from the last progress of any party to the verdict.
	ToVerdict time.Duration
	// Evidence lists, for any verdict, what in the final state only a
	// hang can follow from in naive and respawn: a worker that died
	// holding a job, a parent goroutine that died.
	Evidence []string
	// Leftovers lists anything teardown failed to end (must be empty).
	Leftovers []string
	// Final is the pool's last snapshot, and Proof what was proven from
	// it: the source of the hang's wait-for graph (WaitGraph).
	Final pools.Snapshot
	Proof Proof
}

// Count returns how many jobs are ok, failed and unresolved; a job a map
// did not deliver (Undelivered) is none of them.
func (o Outcome) Count() (ok, failed, unresolved int) {
	for _, j := range o.Jobs {
		switch j.State {
		case JobOK:
			ok++
		case JobError:
			failed++
		case JobCancelled, JobNotDelivered:
		default:
			unresolved++
		}
	}
	return
}

// Undelivered returns how many jobs a map that raised did not deliver:
// cancelled, and still running or done.
func (o Outcome) Undelivered() (cancelled, running int) {
	for _, j := range o.Jobs {
		switch j.State {
		case JobCancelled:
			cancelled++
		case JobNotDelivered:
			running++
		}
	}
	return
}

// ErrorKinds lists the distinct error kinds of failed jobs, in job order.
func (o Outcome) ErrorKinds() []string {
	var out []string
	seen := map[string]bool{}
	for _, j := range o.Jobs {
		if j.State == JobError && !seen[j.Kind] {
			seen[j.Kind] = true
			out = append(out, j.Kind)
		}
	}
	return out
}

// Classify names the kind of a job's error.
func Classify(err error) string {
	var te *pools.TaskError
	var ee *pools.EncodeError
	var wl *pools.WorkerLost
	var re *pools.ReadError
	var cbe *pools.CallbackError
	var ie *pools.InputError
	switch {
	case errors.As(err, &cbe):
		return ErrKindCallback
	case errors.As(err, &ie):
		return ErrKindInput
	case pools.IsKeyboardInterrupt(err):
		return ErrKindInterrupted
	case errors.Is(err, pools.ErrBrokenPool):
		return ErrKindBroken
	case errors.As(err, &wl):
		return ErrKindWorkerLost
	case errors.As(err, &re):
		return ErrKindRead
	case errors.Is(err, context.DeadlineExceeded):
		return ErrKindDeadline
	case errors.Is(err, pools.ErrRestartBudget):
		return ErrKindRestart
	case pools.IsExitRequest(err):
		return ErrKindExit
	case errors.As(err, &ee):
		return ErrKindEncode
	case errors.As(err, &te):
		return ErrKindTask
	case errors.Is(err, pools.ErrTerminated):
		return ErrKindTerminated
	case errors.Is(err, pools.ErrCancelled):
		return ErrKindCancelled
	case isTerminateRaised(err):
		return ErrKindTerminateRaised
	}
	return ErrKindOther
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func joinInts(xs []int) string {
	var b []string
	for _, x := range xs {
		b = append(b, fmt.Sprint(x))
	}
	switch len(b) {
	case 0:
		return ""
	case 1:
		return b[0]
	}
	return strings.Join(b[:len(b)-1], ", ") + " and " + b[len(b)-1]
}
