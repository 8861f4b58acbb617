package scenarios

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/poolhang/poolhang/realpools"
)

// RunReal runs a scenario on the real Python pool it names
// (pool=py:mp.Pool, ...) through realpools.Run. Every process the run
// started is dead and reaped when it returns. A model scenario is
// refused: Run runs those.
func RunReal(ctx context.Context, sc Scenario, opts realpools.Options) (realpools.Outcome, error) {
	if err := sc.Validate(); err != nil {
		return realpools.Outcome{}, err
	}
	if !sc.Real() {
		return realpools.Outcome{}, fmt.Errorf("scenario: %s is a model, not a real pool: run it with Run", sc.Pool)
	}
	return realpools.Run(ctx, sc.String(), opts)
}

// RealEvidence is a real run's account, one line each: the jobs, every
// worker (by its role, with its pid when pids is set, as poolhang run
// prints it to be checked against ps), the lost jobs and who took them,
// and for no-answer every parent thread's stack, summarised. Without
// pids it holds only what every run of a deterministic cell shows (the
// committed results/real.json): no pids, no timings, no descriptor or
// inode numbers, and the live workers' kernel state only where nothing
// moves any more (no-answer), since a pool that answered is still
// tearing down when it is looked at.
func RealEvidence(o realpools.Outcome, workers int, pids bool) []string {
	role := realRoles(o, workers)
	var ws []string
	killed := o.Verdict == realpools.Orphans || o.Verdict == realpools.WorkersExited
	for _, w := range o.Workers {
		if w.InitFailed {
			continue // counted in one line below: there may be hundreds
		}
		s := role[w.PID]
		if pids {
			s += fmt.Sprintf(" (pid %d)", w.PID)
		}
		switch {
		case killed && !pids:
			// Which worker ends up where, and with which code, is a
			// race of the jobs still out when the parent was killed.
			s = "a worker: " + orphanFateOf(w)
		default:
			s += ": " + realFate(w, pids || o.Verdict == realpools.NoAnswer || killed)
		}
		ws = append(ws, s)
	}
	if !pids {
		slices.Sort(ws)
	}
	out := []string{"jobs: " + realJobs(o)}
	if l := initFailuresLine(o, pids); l != "" {
		out = append(out, l)
	}
	if o.CallError != nil {
		out = append(out, "the call raised "+o.CallError.Class)
	}
	out = append(out, ws...)
	out = append(out, continuedLines(o, role, pids)...)
	for _, j := range o.Jobs {
		if j.Outcome != "unanswered" || j.ResultSeen || o.Verdict != realpools.NoAnswer {
			continue
		}
		var by []string
		for _, p := range j.TakenBy {
			s := role[p]
			if pids {
				s += fmt.Sprintf(" (pid %d)", p)
			}
			by = append(by, s)
		}
		if len(by) == 0 {
			by = []string{"no worker (it never left the parent)"}
		}
		out = append(out, fmt.Sprintf("lost: job %d, taken by %s; its result never reached the parent", j.Job, strings.Join(by, " and ")))
	}
	if fl := o.ForkLock; fl != nil && len(fl.Blocked) > 0 {
		who := fmt.Sprintf("%d %s", len(fl.Blocked), plural(len(fl.Blocked), "worker", "workers"))
		holder := "a parent thread"
		if pids {
			who += fmt.Sprintf(" (pids %v)", fl.Blocked)
			holder += fmt.Sprintf(" (tid %d)", fl.HolderTID)
		}
		where := "which does not exist in them"
		if fl.HolderInWorker {
			where = "which is a thread of a worker"
		}
		out = append(out, fmt.Sprintf("%s blocked in their initializer on the lock %s held when they were forked, %s; the parent released its own copy once they had started (released: %v)",
			who, holder, where, fl.Released))
	}
	var ts []string
	for _, t := range o.Threads {
		ts = append(ts, "parent thread "+threadRole(t.Name)+": "+summariseStack(t.Stack))
	}
	if !pids {
		slices.Sort(ts)
	}
	return append(out, ts...)
}

// realRoles names each worker by its place in the run: the one a fault
// struck, the one that took a lost job, one of the first workers, or a
// replacement (started after the first ones).
func realRoles(o realpools.Outcome, workers int) map[int]string {
	role := map[int]string{}
	for i, w := range o.Workers {
		if i < workers {
			role[w.PID] = "another worker"
		} else {
			role[w.PID] = "a replacement worker"
		}
	}
	for _, j := range o.Jobs {
		if j.Outcome == "unanswered" && !j.ResultSeen && o.Verdict == realpools.NoAnswer {
			for _, p := range j.TakenBy {
				if _, ok := role[p]; ok {
					role[p] = fmt.Sprintf("the worker that took job %d", j.Job)
				}
			}
		}
	}
	for _, s := range o.Struck {
		if _, ok := role[s.PID]; ok {
			role[s.PID] = fmt.Sprintf("the worker struck by %s at %s of job %d", s.Kind, s.Phase, s.Job)
		}
	}
	if is := o.IdleStrike; is != nil {
		if _, ok := role[is.PID]; ok {
			role[is.PID] = fmt.Sprintf("the idle worker struck by %s (%s)", is.Kind, is.Phase)
		}
	}
	return role
}

// realFate is a worker's end, or, alive and with state set, its state
// letter, the call it is blocked in and its wait channel.
func realFate(w realpools.Worker, state bool) string {
	switch w.Fate {
	case "exited":
		code := -1
		if w.ExitCode != nil {
			code = *w.ExitCode
		}
		return fmt.Sprintf("exited with code %d%s", code, zombieMark(w.Zombie))
	case "killed":
		return "killed by " + w.Signal + zombieMark(w.Zombie)
	case "alive":
		if !state {
			return "alive"
		}
		s := fmt.Sprintf("alive [%s] in %s (wchan %s)", w.State, w.Syscall, w.Wchan)
		if k := fdKind(w.FD); k != "" {
			s += " on a " + k
		}
		if w.Orphan {
			s += fmt.Sprintf(", an orphan: its parent is now pid %d, the driver (a child subreaper)", w.PPID)
			if w.Holders != "" {
				s += "; the pipe's other end is held by pids " + w.Holders
			}
		}
		return s
	}
	return w.Fate
}

func zombieMark(z bool) string {
	if z {
		return " [Z], a zombie"
	}
	return ""
}

// fdKind is what a descriptor "5 -> pipe:[4090295]" is, without its
// numbers.
func fdKind(fd string) string {
	_, target, ok := strings.Cut(fd, "-> ")
	if !ok {
		return ""
	}
	kind, _, _ := strings.Cut(target, ":")
	return strings.TrimSpace(kind)
}

var threadNumber = regexp.MustCompile(`^Thread-\d+ \((.*)\)$|^(.*?)[-_]?\d+$`)

// threadRole is a thread's name without its number: "Thread-3
// (_handle_results)" is _handle_results.
func threadRole(name string) string {
	if m := threadNumber.FindStringSubmatch(name); m != nil {
		if m[1] != "" {
			return m[1]
		}
		if m[2] != "" {
			return m[2]
		}
	}
	return name
}

// summariseStack is a Python stack (outermost first, as faulthandler
// prints it) as the chain of its functions past threading's bootstrap,
// each with its file, and the innermost line of code.
func summariseStack(frames []string) string {
	var chain []string
	code := ""
	for _, f := range frames {
		head, body, _ := strings.Cut(strings.TrimSpace(f), "\n")
		// File "/usr/lib/python3.11/multiprocessing/pool.py", line 579, in _handle_results
		file, fn := "", ""
		if i := strings.Index(head, `File "`); i >= 0 {
			rest := head[i+6:]
			if j := strings.IndexByte(rest, '"'); j >= 0 {
				file = path.Base(rest[:j])
			}
		}
		if i := strings.LastIndex(head, " in "); i >= 0 {
			fn = head[i+4:]
		}
		if file == "threading.py" && (fn == "_bootstrap" || fn == "_bootstrap_inner" || fn == "run") {
			continue
		}
		chain = append(chain, file+" "+fn)
		code = strings.TrimSpace(body)
	}
	if len(chain) == 0 {
		return "(no Python frame)"
	}
	s := strings.Join(chain, " > ")
	if code != "" {
		s += ": `" + code + "`"
	}
	return s
}

// realJobs counts the jobs by how they ended.
func realJobs(o realpools.Outcome) string {
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
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// orphanFateOf is a worker's fate after its parent was killed, without
// pids or exit codes.
func orphanFateOf(w realpools.Worker) string {
	if !w.Orphan {
		return "ended by itself after its parent died"
	}
	s := fmt.Sprintf("an orphan reparented to the driver (a child subreaper), [%s] in %s (wchan %s)", w.State, w.Syscall, w.Wchan)
	if k := fdKind(w.FD); k != "" {
		s += " on a " + k
	}
	return s
}
