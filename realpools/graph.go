package realpools

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/poolhang/poolhang/waitgraph"
)

// GraphEvidence names what an observed graph is read from.
const GraphEvidence = "the driver's report at the no-answer verdict: every parent thread's Python stack (sys._current_frames), " +
	"each worker's kernel state letter, wait channel and syscall (/proc/PID/stat, wchan, syscall), where each fault struck " +
	"and which worker took each job (the workers' own reports)"

// WaitGraph draws a no-answer run from its evidence, marked as observed,
// not proven: the caller and each parent thread by its role (from the
// functions in its stack), what each is blocked in (its innermost frame
// outside threading.py), each worker with its state and the job it
// took, the lost jobs named, and the waits the evidence shows. It is nil
// unless the verdict is no-answer. With pids false, as for committed
// pictures, no pid or descriptor number appears.
func (o Outcome) WaitGraph(pids bool) *waitgraph.Graph {
	if o.Verdict != NoAnswer {
		return nil
	}
	d := &observed{g: &waitgraph.Graph{Title: o.Scenario, Provenance: waitgraph.Observed, Evidence: GraphEvidence},
		took: lostTaken(o), roles: map[string]string{}, threads: map[string]Thread{}}
	d.names = workerNames(o.Workers, d.took, pids)
	d.workers(o, pids)
	d.parentThreads(o)
	d.threadEdges()
	if d.roles["task handler"] != "" {
		for _, w := range d.readers {
			d.edge(w, "task handler", "a task in the task pipe")
		}
	}
	if len(d.readers) == 1 {
		for _, w := range d.lockers {
			d.edge(w, d.readers[0], "the task queue's read lock, held by the one worker reading the task pipe")
		}
	}
	g := d.g
	sort.SliceStable(g.Nodes, func(i, j int) bool { return nodeOrder(g.Nodes[i]) < nodeOrder(g.Nodes[j]) })
	sort.SliceStable(g.Edges, func(i, j int) bool {
		a, b := g.Edges[i], g.Edges[j]
		return a.From+"\x00"+a.To+"\x00"+a.On < b.From+"\x00"+b.To+"\x00"+b.On
	})
	sort.Strings(d.lost)
	g.Caption = strings.Join(d.lost, "; ")
	return g
}

// observed is a no-answer run's graph as it is drawn: the workers by
// name and what the evidence shows of each, the parent's threads by role.
type observed struct {
	g     *waitgraph.Graph
	took  map[int][]int  // worker pid -> the jobs it took whose result never came
	names map[int]string // worker pid -> node ID
	// The lost jobs' sentences; dead and alive workers, and those of the
	// live ones blocked reading (readers) or on a futex (lockers).
	lost, dead, alive, readers, lockers []string
	roles                               map[string]string // role -> node ID
	threads                             map[string]Thread // node ID -> thread
}

// lostTaken maps each worker to the jobs it took whose result never came.
func lostTaken(o Outcome) map[int][]int {
	seen := map[int]bool{}
	for _, j := range o.Jobs {
		if j.ResultSeen {
			seen[j.Job] = true
		}
	}
	took := map[int][]int{}
	for _, l := range o.Lost {
		for _, pid := range l.TakenBy {
			if !seen[l.Job] {
				took[pid] = append(took[pid], l.Job)
			}
		}
	}
	return took
}

func (d *observed) edge(from, to, on string) {
	d.g.Edges = append(d.g.Edges, waitgraph.Edge{From: from, To: to, On: on + " (observed)"})
}

// workers adds a node per worker, with its state, what it did and the
// jobs it took, and names the jobs lost with the dead.
func (d *observed) workers(o Outcome, pids bool) {
	struck := map[int]Strike{}
	for _, s := range o.Struck {
		struck[s.PID] = s
	}
	for _, w := range o.Workers {
		n := waitgraph.Node{ID: d.names[w.PID], Label: d.names[w.PID], Kind: waitgraph.Worker, State: workerState(w)}
		if pids {
			n.PID = w.PID
		}
		n.Doing = workerDoing(w, struck[w.PID], pids)
		if js := d.took[w.PID]; len(js) > 0 {
			n.Job = "job " + joinJobs(js)
		}
		if n.State.Dead() {
			d.dead = append(d.dead, n.ID)
			if len(d.took[w.PID]) > 0 {
				n.Irreplaceable = true
				for _, j := range d.took[w.PID] {
					d.lost = append(d.lost, fmt.Sprintf("job %d is lost: %s, %s", j, n.Label, n.Doing))
				}
			}
		} else {
			d.alive = append(d.alive, n.ID)
			switch w.Syscall {
			case "read", "poll", "ppoll", "select", "pselect6":
				d.readers = append(d.readers, n.ID)
			case "futex":
				d.lockers = append(d.lockers, n.ID)
			}
		}
		d.g.Nodes = append(d.g.Nodes, n)
	}
}

// parentThreads adds a node per parent thread, by its role (the driver's
// own listener left out), numbered where a role repeats.
func (d *observed) parentThreads(o Outcome) {
	for _, t := range o.Threads {
		role := threadRole(t)
		if role == "" {
			continue
		}
		id := role
		for i := 2; d.roles[id] != ""; i++ {
			id = fmt.Sprintf("%s (%d)", role, i)
		}
		d.roles[id] = id
		d.threads[id] = t
		kind := waitgraph.Thread
		if role == "caller" {
			kind = waitgraph.Caller
		}
		d.g.Nodes = append(d.g.Nodes, waitgraph.Node{ID: id, Label: role, Kind: kind, State: waitgraph.Blocked, Doing: blockedIn(t.Stack)})
	}
}

// threadEdges adds what each parent thread's stack shows it waits for.
func (d *observed) threadEdges() {
	everyWorker := append(append([]string(nil), d.alive...), d.dead...)
	for id, t := range d.threads {
		stack := strings.Join(t.Stack, "\n")
		inner := innermost(t.Stack)
		switch {
		case strings.HasPrefix(id, "caller"):
			d.callerEdges(id, stack)
		case strings.Contains(stack, "join_thread") && d.roles["queue feeder"] != "":
			d.edge(id, "queue feeder", "its end: call_queue.join_thread()")
		case strings.HasPrefix(id, "queue feeder") && strings.Contains(inner, "write("):
			for _, w := range everyWorker {
				d.edge(id, w, "room in the call queue's pipe (the workers read it)")
			}
		case strings.HasPrefix(id, "result handler") && strings.Contains(inner, "read("):
			for _, w := range everyWorker {
				d.edge(id, w, "the result pipe (a writer)")
			}
		}
	}
}

// callerEdges: the caller waits for what it joins, or else for the
// thread that answers its jobs and for each dead worker that took one.
func (d *observed) callerEdges(id, stack string) {
	if m := joinRe.FindStringSubmatch(stack); m != nil {
		if r := joinTarget[m[1]]; r != "" && d.roles[r] != "" {
			d.edge(id, r, "its end: "+m[0])
			return
		}
	}
	for _, r := range []string{"result handler", "manager", "pool manager"} {
		if d.roles[r] != "" {
			d.edge(id, r, "the results of its jobs")
			break
		}
	}
	for pid, js := range d.took {
		if n := d.names[pid]; contains(d.dead, n) {
			d.edge(id, n, fmt.Sprintf("job %s, which only it could answer", joinJobs(js)))
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// joinRe finds what a caller's join waits for: self._worker_handler.join().
var joinRe = regexp.MustCompile(`self\.(_[a-z_]+)\.join\(\)`)

var joinTarget = map[string]string{
	"_worker_handler":          "worker handler",
	"_task_handler":            "task handler",
	"_result_handler":          "result handler",
	"_executor_manager_thread": "manager",
}

// roleFuncs maps the functions (or thread names) in a parent thread's
// stack to its role, first match wins: CPython 3.11's
// multiprocessing/pool.py and concurrent/futures/process.py, loky's
// process_executor.py, billiard's pool.py, pebble's pool/process.py.
var roleFuncs = []struct{ fn, role string }{
	{"poolhang-caller", "caller"},
	{"in _handle_results", "result handler"},
	{"in _handle_tasks", "task handler"},
	{"in _handle_workers", "worker handler"},
	{"in _feed", "queue feeder"},
	{"QueueFeederThread", "queue feeder"},
	{"wait_result_broken_or_wakeup", "manager"},
	{"terminate_broken", "manager"},
	{"_ExecutorManagerThread", "manager"},
	{"concurrent/futures/process.py", "manager"},
	{"loky/process_executor.py", "manager"},
	{"class ResultHandler", "result handler"},
	{"billiard/pool.py\", line", "billiard thread"},
	{"in task_scheduler_loop", "task scheduler"},
	{"in pool_manager_loop", "pool manager"},
	{"in message_manager_loop", "message manager"},
}

func threadRole(t Thread) string {
	if t.Name == "poolhang-listener" {
		return ""
	}
	hay := t.Name + "\n" + strings.Join(t.Stack, "\n")
	for _, r := range roleFuncs {
		if strings.Contains(hay, r.fn) {
			return r.role
		}
	}
	if t.Name == "MainThread" {
		return "main thread"
	}
	return "thread " + t.Name
}

var frameRe = regexp.MustCompile(`File "([^"]+)", line (\d+), in (\S+)\n\s*(.*)`)

// blockedIn is a stack's innermost frame outside threading.py and the
// driver's own patches: "_recv (connection.py:378): chunk = read(handle, remaining)".
func blockedIn(stack []string) string {
	for i := len(stack) - 1; i >= 0; i-- {
		m := frameRe.FindStringSubmatch(stack[i])
		if m == nil {
			continue
		}
		file := path.Base(m[1])
		if file == "threading.py" || file == "poolhang_driver.py" || file == "selectors.py" {
			continue
		}
		return fmt.Sprintf("in %s (%s:%s): %s", m[3], file, m[2], strings.TrimSpace(m[4]))
	}
	return "blocked"
}

func innermost(stack []string) string {
	if len(stack) == 0 {
		return ""
	}
	return stack[len(stack)-1]
}

// workerNames names workers by what they did: the worker that took a
// lost job, then "another worker (n)" in pid order (start order), with
// the pid added when asked.
func workerNames(ws []Worker, took map[int][]int, pids bool) map[int]string {
	out := map[int]string{}
	var rest []int
	for _, w := range ws {
		if js := took[w.PID]; len(js) > 0 && !workerState(w).Dead() {
			rest = append(rest, w.PID)
		} else if len(js) > 0 {
			out[w.PID] = "the worker that took job " + joinJobs(js)
		} else {
			rest = append(rest, w.PID)
		}
	}
	for i, pid := range rest {
		out[pid] = "another worker"
		if len(rest) > 1 {
			out[pid] = fmt.Sprintf("another worker (%d)", i+1)
		}
	}
	if pids {
		for pid := range out {
			out[pid] += fmt.Sprintf(" [%d]", pid)
		}
	}
	return out
}

func joinJobs(js []int) string {
	var s []string
	for _, j := range js {
		s = append(s, fmt.Sprint(j))
	}
	return strings.Join(s, ", ")
}

func workerState(w Worker) waitgraph.State {
	switch {
	case w.Zombie:
		return waitgraph.Zombie
	case w.Fate != "alive":
		return waitgraph.Reaped
	case w.State == "R":
		return waitgraph.Running
	case w.State == "T":
		return waitgraph.Stopped
	}
	return waitgraph.Blocked
}

func workerDoing(w Worker, s Strike, pids bool) string {
	at := ""
	if s.Phase != "" {
		at = " in " + s.Phase
		if s.Phase == "idle" || strings.HasPrefix(s.Phase, "idle-") {
			at = " while idle"
		}
	}
	switch w.Fate {
	case "alive":
		d := fmt.Sprintf("%s [%s] (wchan %s)", w.Syscall, w.State, w.Wchan)
		if pids && w.FD != "" {
			d += " on fd " + w.FD
		}
		return d
	case "exited":
		code := -1
		if w.ExitCode != nil {
			code = *w.ExitCode
		}
		return fmt.Sprintf("exited with code %d%s", code, at)
	case "killed":
		return "killed by " + w.Signal + at
	}
	return "gone (reaped by the pool)"
}

func nodeOrder(n waitgraph.Node) string {
	return fmt.Sprintf("%d %s", n.Kind, n.ID)
}
