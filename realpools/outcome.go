package realpools

import (
	"fmt"
	"strings"
	"time"
)

// A Verdict is what the caller saw.
type Verdict string

const (
	// Completed: every job has its correct value.
	Completed Verdict = "completed"
	// Raised: the caller was answered, with at least one error.
	Raised Verdict = "raised"
	// NoAnswer: the caller got no answer and nothing moved for the
	// stall limit (Outcome.Limit). Observed, not proven.
	NoAnswer Verdict = "no-answer"
	// ParentExited: the pool ended the Python parent itself before the
	// caller was answered (billiard calls os._exit(1) when one of its
	// handler threads crashes).
	ParentExited Verdict = "parent-exited"
	// WrongValue: the caller was answered without an error, but some
	// value is wrong.
	WrongValue Verdict = "wrong-value"
	// Orphans (parent-killed): some worker was still alive, reparented
	// to the driver (a child subreaper), when nothing had moved for the
	// stall limit after the pool's parent was killed. Observed.
	Orphans Verdict = "orphans"
	// WorkersExited (parent-killed): every worker ended by itself after
	// the pool's parent was killed.
	WorkersExited Verdict = "workers-exited"
)

// An Outcome is one real run, as the driver reported it.
type Outcome struct {
	Scenario string  `json:"scenario"`
	Pool     string  `json:"pool"`
	Python   string  `json:"python"`
	Verdict  Verdict `json:"verdict"`
	// Jobs has one entry per job, in order.
	Jobs []Job `json:"jobs"`
	// CallError is the error the caller's call raised, if any.
	CallError *PyError `json:"call_error"`
	// Workers is every worker process the pool started, with its fate.
	Workers []Worker `json:"workers"`
	// Struck lists where each fault really struck.
	Struck []Strike `json:"struck"`
	// IdleStrike is the idle worker chosen for an idle fault and what every
	// worker was blocked in when it was chosen.
	IdleStrike *IdleStrike `json:"idle_strike"`
	// Threads is every parent thread's Python stack, for no-answer.
	Threads []Thread `json:"threads"`
	// Lost lists, for no-answer, each unanswered job a worker took.
	Lost []LostJob `json:"lost"`
	// Events is the workers' reports, in order, with their times.
	Events []string `json:"events"`
	// WorkersStarted and InitFailures count, under initializer=raise,
	// the workers the pool started and those that died in the
	// initializer: a pool that restarts them forever shows as no-answer
	// with these counts growing (the real side of a model's livelock).
	WorkersStarted int `json:"workers_started"`
	InitFailures   int `json:"init_failures"`
	// Start is the start method the scenario named (start=), "" for the
	// pool's default.
	Start string `json:"start"`
	// ForkLock is fork-held-lock's evidence.
	ForkLock *ForkLock `json:"fork_lock"`

	StallS       float64 `json:"stall_s"`
	GraceS       float64 `json:"grace_s"`
	GraceWhy     string  `json:"grace_why"`
	LimitS       float64 `json:"limit_s"`
	WallMS       float64 `json:"wall_ms"`
	AnswerMS     float64 `json:"answer_ms"`
	NoProgressMS float64 `json:"no_progress_ms"`

	// ExitCode and Stderr describe the Python parent's end for
	// ParentExited.
	ExitCode int    `json:"-"`
	Stderr   string `json:"-"`
}

// ForkLock is what fork-held-lock left: the parent thread that held the
// lock while the workers started, and the workers that reached the lock
// in their initializer and never got past it.
type ForkLock struct {
	HolderTID int   `json:"holder_tid"`
	Released  bool  `json:"released"` // the parent released it once its workers had started
	Blocked   []int `json:"blocked"`
	// HolderInWorker: the holder's thread id is a thread of a blocked
	// worker (/proc/PID/task/TID); false means the holder does not exist
	// there, so nothing in the worker can release its copy of the lock.
	HolderInWorker bool           `json:"holder_in_worker"`
	WorkerThreads  map[string]int `json:"worker_threads"`
}

// A Job is one job's outcome.
type Job struct {
	Job int `json:"job"`
	// Outcome is value, error, wrong, call-raised (the caller's one call
	// raised before it delivered this job) or unanswered.
	Outcome string `json:"outcome"`
	Value   any    `json:"value"`
	Class   string `json:"class"`
	Message string `json:"message"`
	// ResultSeen: the job's result reached the parent's decoder.
	ResultSeen bool `json:"result_seen"`
	// TakenBy lists the workers that ran (or decoded) the job.
	TakenBy []int `json:"taken_by"`
}

// A PyError is a Python exception: its class and message.
type PyError struct {
	Class   string `json:"class"`
	Message string `json:"message"`
}

// A Worker is one worker process and its fate.
type Worker struct {
	PID int `json:"pid"`
	// Fate is alive, exited, killed or gone (reaped unrecorded).
	Fate     string `json:"fate"`
	ExitCode *int   `json:"exit_code"`
	Signal   string `json:"signal"`
	Zombie   bool   `json:"zombie"`
	// State is the kernel's state letter (S, R, D, Z), Wchan its wait
	// channel, Syscall the call it is blocked in and FD that call's file.
	State   string `json:"state"`
	Wchan   string `json:"wchan"`
	Syscall string `json:"syscall"`
	FD      string `json:"fd"`
	// InitFailed: the worker reported that the pool's initializer raised.
	InitFailed bool `json:"init_failed"`
	// For parent-killed: an orphan, its parent now (the driver, its
	// subreaper) and the pids holding the other end of the pipe it is
	// blocked on (lsof's answer), comma-separated.
	Orphan  bool   `json:"orphan"`
	PPID    int    `json:"ppid"`
	Holders string `json:"holders"`
}

func (w Worker) String() string {
	switch w.Fate {
	case "alive":
		s := fmt.Sprintf("worker %d [%s] alive: %s (wchan %s)", w.PID, w.State, w.Syscall, w.Wchan)
		if w.FD != "" {
			s += " on fd " + w.FD
		}
		return s
	case "exited":
		code := -1
		if w.ExitCode != nil {
			code = *w.ExitCode
		}
		return fmt.Sprintf("worker %d%s exited with code %d", w.PID, zombie(w), code)
	case "killed":
		return fmt.Sprintf("worker %d%s killed by %s", w.PID, zombie(w), w.Signal)
	}
	return fmt.Sprintf("worker %d: %s", w.PID, w.Fate)
}

func zombie(w Worker) string {
	if w.Zombie {
		return " [Z]"
	}
	return ""
}

// A Strike is where a fault really struck.
type Strike struct {
	Job   int    `json:"job"`
	Phase string `json:"phase"`
	Kind  string `json:"kind"`
	PID   int    `json:"pid"`
	// Continued, for sigstop-cont: whether the driver sent the SIGCONT
	// (false: the worker ended while stopped; nil: neither was seen), the
	// state it saw first (T) and how long nothing had moved by then.
	Continued   *bool   `json:"continued,omitempty"`
	StateBefore string  `json:"state_before,omitempty"`
	QuietMS     float64 `json:"quiet_ms,omitempty"`
}

// An IdleStrike is the idle worker an idle fault struck.
type IdleStrike struct {
	PID     int               `json:"pid"`
	Phase   string            `json:"phase"`
	Kind    string            `json:"kind"`
	Workers map[string]string `json:"workers"`
}

// A Thread is a parent thread's Python stack, innermost frame last.
type Thread struct {
	Name  string   `json:"thread"`
	Stack []string `json:"stack"`
}

// A LostJob is an unanswered job and the workers that took it.
type LostJob struct {
	Job     int   `json:"job"`
	TakenBy []int `json:"taken_by"`
}

// Took is how long the caller waited for its answer, or, for no-answer,
// how long the run lasted.
func (o Outcome) Took() time.Duration {
	ms := o.AnswerMS
	if o.Verdict == NoAnswer || ms == 0 {
		ms = o.WallMS
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// Summary is one line: the verdict, the jobs and the call's error.
func (o Outcome) Summary() string {
	counts := map[string]int{}
	for _, j := range o.Jobs {
		counts[j.Outcome]++
	}
	var parts []string
	for _, k := range []string{"value", "error", "call-raised", "wrong", "unanswered"} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	s := fmt.Sprintf("%s (jobs: %s)", o.Verdict, strings.Join(parts, ", "))
	switch o.Verdict {
	case NoAnswer:
		s += fmt.Sprintf(" after %.1f s with no progress (limit %.1f s)", o.NoProgressMS/1000, o.LimitS)
	case ParentExited:
		s += fmt.Sprintf(": the Python parent exited with code %d", o.ExitCode)
	default:
		s += fmt.Sprintf(" in %s", o.Took().Round(time.Millisecond))
	}
	if o.CallError != nil {
		s += fmt.Sprintf(": %s: %s", o.CallError.Class, firstLine(o.CallError.Message))
	}
	return s
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && l != `"""` {
			s = l
			if strings.Contains(l, "Error") || strings.Contains(l, "Exception") {
				break
			}
		}
	}
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}
