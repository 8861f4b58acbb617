package scenarios

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// The parent-killed fault kills the pool's parent process, so the pool
// cannot run in the harness: a cell runs as three processes of this
// binary. The harness starts a supervisor, a child subreaper; the
// supervisor starts the pool's parent, which runs the scenario; when the
// worker holding the targeted job stops at its point, the supervisor
// SIGKILLs the parent. The workers are reparented to the supervisor,
// which watches them until each has ended by itself or is proven
// blocked for good, then kills and reaps them all and reports.
const (
	envSupervisor = "POOLHANG_ORPHAN_SUPERVISOR"
	envPoolParent = "POOLHANG_POOL_PARENT"
	// orphanBackstop bounds the watch of the orphans: past it, with
	// neither an end nor a proof, the verdict is HangTimeout.
	orphanBackstop = 20 * time.Second
)

// Verdicts of a scenario whose parent is killed: the caller is gone with
// it, so the question is the workers' fate.
const (
	// Orphans: some worker outlived its parent for good, proven blocked
	// on a pipe or a lock that only the orphans themselves could release.
	Orphans Verdict = "orphans"
	// WorkersExited: every worker ended by itself once its parent died.
	WorkersExited Verdict = "workers-exited"
)

var (
	parentDies = faults.ParentDies
	orphaned   = func(why string) Expectation { return Expectation{Verdict: Orphans, Reason: why} }
	exitedAll  = func(why string) Expectation { return Expectation{Verdict: WorkersExited, Reason: why} }
)

// Why multiprocessing.Pool's workers end when its parent is killed: the
// worker closes the ends it does not use first thing (2.6 and 3.11
// pool.py worker: `inqueue._writer.close(); outqueue._reader.close()`),
// so the parent held the only write end of the task pipe and the only
// read end of the result pipe.
const (
	parentDied26 = "2.6's worker() closes inqueue._writer and outqueue._reader first thing, so the parent held the task pipe's only write end and the result pipe's only read end: once it is dead, an idle worker's get() reads end-of-file (`except (EOFError, IOError): break`), and the worker that held job 2 fails to write its result (EPIPE: an IOError that 2.6's worker does not catch around put()) and exits"
	parentDied3x = "3.11's worker() closes inqueue._writer and outqueue._reader first thing (pool.py), so the parent held the task pipe's only write end and the result pipe's only read end: once it is dead, an idle worker's get() reads end-of-file (`except (EOFError, OSError): break`), and the worker that held job 2 fails to write its result (BrokenPipeError), fails again writing the MaybeEncodingError that wraps it, and exits"
)

func init() {
	pools.RegisterMode(envSupervisor, serveSupervisor)
	pools.RegisterMode(envPoolParent, servePoolParent)
}

// killsParent reports whether the scenario's faults kill the parent.
func (sc Scenario) killsParent() bool {
	for _, f := range sc.Faults {
		if k, err := faults.Lookup(f.Kind); err == nil && k.Effect == faults.ParentDies {
			return true
		}
	}
	return false
}

// orphanReport is the supervisor's account, one JSON line on its stdout.
type orphanReport struct {
	Error   string        `json:"error,omitempty"`
	Parent  int           `json:"parent"`
	Reaper  int           `json:"reaper"`
	Struck  int           `json:"struck"` // the worker at the point when the parent was killed
	Job     int           `json:"job"`
	Phase   string        `json:"phase"`
	Workers []orphanFate  `json:"workers"`
	Proven  bool          `json:"proven"`
	Waited  time.Duration `json:"waited"`
	Others  int           `json:"others"` // other children the supervisor ended
}

type orphanFate struct {
	PID    int           `json:"pid"`
	Slot   int           `json:"slot"`
	Exit   string        `json:"exit,omitempty"` // how it ended by itself
	Orphan *pools.Orphan `json:"orphan,omitempty"`
	Stuck  bool          `json:"stuck"`
}

// parentSpec is what the parent reports once the fault's point is
// reached: every worker of the pool then.
type parentSpec struct {
	Error   string `json:"error,omitempty"`
	Struck  int    `json:"struck"`
	Workers []struct {
		PID  int `json:"pid"`
		Slot int `json:"slot"`
	} `json:"workers"`
}

// runParentKilled runs a parent-killed scenario (see envSupervisor).
func runParentKilled(ctx context.Context, sc Scenario) (Outcome, error) {
	start := time.Now()
	rep, err := startMode(ctx, envSupervisor, sc.String(), func(stdout io.Reader) (orphanReport, error) {
		var rep orphanReport
		line, err := bufio.NewReader(stdout).ReadBytes('\n')
		if err != nil {
			return rep, fmt.Errorf("parent-killed: the supervisor ended without a report: %w", err)
		}
		return rep, json.Unmarshal(line, &rep)
	})
	if err == nil && rep.Error != "" {
		err = errors.New("parent-killed: " + rep.Error)
	}
	if err != nil {
		return Outcome{}, err
	}
	out := orphanOutcome(sc, rep)
	out.Wall = time.Since(start)
	return out, nil
}

// startMode starts this binary in a mode, hands it text on descriptor 3
// after a fresh token (the token is also the mode's variable, so a
// process that merely inherited the variable is not one), keeps that
// pipe open as its lifeline, and reads its stdout with read. The child
// dies with the thread that started it; ending ctx cuts the lifeline.
func startMode[T any](ctx context.Context, env, text string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return zero, err
	}
	token := hex.EncodeToString(tok)
	lr, lw, err := os.Pipe()
	if err != nil {
		return zero, err
	}
	defer lw.Close()
	exe, err := os.Executable()
	if err != nil {
		lr.Close()
		return zero, err
	}
	runtime.LockOSThread() // Pdeathsig follows the starting thread
	defer runtime.UnlockOSThread()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(environWithout(env), env+"="+token)
	cmd.ExtraFiles = []*os.File{lr}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		lr.Close()
		return zero, err
	}
	if err := cmd.Start(); err != nil {
		lr.Close()
		return zero, err
	}
	lr.Close()
	if _, err := io.WriteString(lw, token+" "+text+"\n"); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return zero, err
	}
	stop := context.AfterFunc(ctx, func() { lw.Close() })
	defer stop()
	v, rerr := read(stdout)
	if rerr != nil {
		cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if rerr == nil && werr != nil {
		rerr = fmt.Errorf("%s ended: %w", env, werr)
	}
	if rerr != nil && ctx.Err() != nil {
		rerr = ctx.Err()
	}
	return v, rerr
}

func environWithout(key string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// handshake reads descriptor 3's first line, "TOKEN SCENARIO", and
// checks the token. The descriptor stays open: its end of file is the
// lifeline's cut.
func handshake(env, token string) (Scenario, *os.File, bool) {
	var st unix.Stat_t
	if unix.Fstat(3, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		fmt.Fprintf(os.Stderr, "poolhang: ignoring %s: descriptor 3 is not the pipe it comes with\n", env)
		return Scenario{}, nil, false
	}
	f := os.NewFile(3, "lifeline")
	var line []byte
	b := make([]byte, 1)
	for len(line) < 4096 {
		if n, err := f.Read(b); n == 0 || err != nil {
			break
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	got, text, _ := strings.Cut(string(line), " ")
	if token == "" || got != token {
		fmt.Fprintf(os.Stderr, "poolhang: ignoring %s: its handshake on descriptor 3 failed\n", env)
		return Scenario{}, nil, false
	}
	sc, err := Parse(text)
	if err != nil {
		fmt.Fprintf(os.Stderr, "poolhang %s: %v\n", env, err)
		return Scenario{}, nil, false
	}
	return sc, f, true
}

// servePoolParent is the pool's parent: it runs the scenario's pool and
// calls it, reports on stdout once the worker holding the targeted job
// has stopped at its point, and waits to be killed.
func servePoolParent(token string) (int, bool) {
	sc, lifeline, ok := handshake(envPoolParent, token)
	if !ok {
		return 0, false
	}
	go func() { io.Copy(io.Discard, lifeline); os.Exit(3) }()
	say := func(v any) { b, _ := json.Marshal(v); os.Stdout.Write(append(b, '\n')) }
	f, at, err := parentKilledFault(sc)
	if err != nil {
		say(parentSpec{Error: err.Error()})
		return 2, true
	}
	p, err := pools.Start(sc.Pool, pools.Options{Workers: sc.Workers, TaskTimeout: sc.Deadline, MaxTaskFrame: sc.maxTaskFrame(), Orphanable: true})
	if err != nil {
		say(parentSpec{Error: err.Error()})
		return 2, true
	}
	r := &run{sc: sc, p: p}
	if sc.Payload > 0 {
		r.payload = pools.Payload(sc.Payload)
	}
	tasks, err := r.tasks()
	if err != nil {
		say(parentSpec{Error: err.Error()})
		return 2, true
	}
	called := make(chan callerResult, 1)
	go func() { called <- r.call(context.Background(), tasks) }()
	tick := time.NewTicker(pollEvery)
	for {
		select {
		case <-called:
			say(parentSpec{Error: fmt.Sprintf("the caller was answered before %s struck", f)})
			p.Terminate()
			return 2, true
		case <-tick.C:
		}
		s := p.Snapshot()
		var spec parentSpec
		for _, w := range s.Parties {
			if w.Role != pools.RoleWorker || w.Exit != nil {
				continue
			}
			spec.Workers = append(spec.Workers, struct {
				PID  int `json:"pid"`
				Slot int `json:"slot"`
			}{w.PID, w.Slot})
			if w.Stop == at && w.Job == f.Job {
				spec.Struck = w.PID
			}
		}
		if spec.Struck != 0 {
			say(spec)
			select {} // the supervisor kills this process now
		}
	}
}

// parentKilledFault is the scenario's parent-killed fault and its point.
func parentKilledFault(sc Scenario) (Fault, pools.Point, error) {
	for _, f := range sc.Faults {
		if k, err := faults.Lookup(f.Kind); err == nil && k.Effect == faults.ParentDies {
			return f, k.Trigger(f.Phase).At, nil
		}
	}
	return Fault{}, 0, errors.New("no fault kills the parent")
}

// serveSupervisor is the child subreaper of a parent-killed cell.
func serveSupervisor(token string) (int, bool) {
	sc, lifeline, ok := handshake(envSupervisor, token)
	if !ok {
		return 0, false
	}
	rep := supervise(sc, lifeline)
	b, _ := json.Marshal(rep)
	os.Stdout.Write(append(b, '\n'))
	return 0, true
}

func supervise(sc Scenario, lifeline *os.File) (rep orphanReport) {
	rep.Reaper = os.Getpid()
	// Every process of the cell left behind is ours to end, whatever
	// happens below.
	defer func() { rep.Others = endChildren(rep.Workers) }()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		rep.Error = "PR_SET_CHILD_SUBREAPER: " + err.Error()
		return rep
	}
	go func() {
		io.Copy(io.Discard, lifeline) // the harness is gone or gave up
		endChildren(nil)
		os.Exit(3)
	}()
	f, _, err := parentKilledFault(sc)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	rep.Job, rep.Phase = f.Job, string(f.Phase)
	type started struct {
		spec parentSpec
		pid  int
	}
	ready := make(chan started, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		// The parent is killed below, so its own end is expected.
		_, err := startMode(ctx, envPoolParent, sc.String(), func(stdout io.Reader) (parentSpec, error) {
			var spec parentSpec
			line, err := bufio.NewReader(stdout).ReadBytes('\n')
			if err == nil {
				err = json.Unmarshal(line, &spec)
			}
			if err == nil && spec.Error != "" {
				err = errors.New(spec.Error)
			}
			if err != nil {
				ready <- started{spec: parentSpec{Error: "the pool's parent: " + err.Error()}}
				return spec, err
			}
			ready <- started{spec: spec, pid: parentPID(spec)}
			io.Copy(io.Discard, stdout) // until it is killed
			return spec, nil
		})
		_ = err
	}()
	st := <-ready
	if st.spec.Error != "" {
		rep.Error = st.spec.Error
		return rep
	}
	rep.Parent, rep.Struck = st.pid, st.spec.Struck
	for _, w := range st.spec.Workers {
		rep.Workers = append(rep.Workers, orphanFate{PID: w.PID, Slot: w.Slot})
	}
	// The fault: SIGKILL the pool's parent, as the OOM killer would.
	if err := unix.Kill(rep.Parent, unix.SIGKILL); err != nil {
		rep.Error = "kill the pool's parent: " + err.Error()
		return rep
	}
	t0 := time.Now()
	rep.Proven = watchOrphans(rep.Workers, t0.Add(orphanBackstop))
	rep.Waited = time.Since(t0)
	return rep
}

// parentPID is the pid of the parent that wrote spec: the parent of its
// workers.
func parentPID(spec parentSpec) int {
	for _, w := range spec.Workers {
		if pp := atoiField(w.PID, 1); pp > 0 {
			return pp
		}
	}
	return 0
}

func atoiField(pid, i int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	j := strings.LastIndexByte(string(b), ')')
	fs := strings.Fields(string(b[j+1:]))
	if i >= len(fs) {
		return 0
	}
	var n int
	fmt.Sscan(fs[i], &n)
	return n
}

// watchOrphans follows the workers after their parent died: each one
// that ends is reaped here (they are our children now) and its exit
// recorded; the rest are inspected until every one is proven stuck on
// two inspections with no transition between them, or until deadline.
func watchOrphans(ws []orphanFate, deadline time.Time) bool {
	var lastProgress uint32
	lastStuck := ""
	for time.Now().Before(deadline) {
		var live []int
		for i := range ws {
			if ws[i].Exit == "" {
				if x, ok := reapIfEnded(ws[i].PID); ok {
					ws[i].Exit = x
					continue
				}
				if atoiStat(ws[i].PID) == "" {
					// Reaped by the parent before it was killed (tracked
					// kills a worker past its deadline), so never ours.
					ws[i].Exit = "ended and reaped before its parent died"
					continue
				}
				live = append(live, ws[i].PID)
			}
		}
		if len(live) == 0 {
			return true
		}
		orphans, progress, ok := pools.InspectOrphans(live)
		stuck := stuckOrphans(orphans)
		key := fmt.Sprint(stuck)
		done := ok && len(stuck) == len(live) && progress == lastProgress && key == lastStuck
		byPID := map[int]pools.Orphan{}
		for _, o := range orphans {
			byPID[o.PID] = o
		}
		for i := range ws {
			if o, ok := byPID[ws[i].PID]; ok && ws[i].Exit == "" {
				ws[i].Orphan, ws[i].Stuck = &o, done
			}
		}
		if done {
			return true
		}
		lastProgress, lastStuck = progress, key
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

// stuckOrphans is the largest set of orphans that can never move: each
// is blocked, its wait not satisfiable now, and every releaser of it is
// dead or in the set.
func stuckOrphans(os []pools.Orphan) []int {
	in := map[int]bool{}
	for _, o := range os {
		if o.Blocked != "" && !o.Ready {
			in[o.PID] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, o := range os {
			if !in[o.PID] {
				continue
			}
			for _, r := range o.Releasers {
				if !in[r] && alive(r) {
					delete(in, o.PID)
					changed = true
					break
				}
			}
		}
	}
	var out []int
	for pid := range in {
		out = append(out, pid)
	}
	sort.Ints(out)
	return out
}

func alive(pid int) bool {
	st := atoiStat(pid)
	return st != "" && st != "Z"
}

func atoiStat(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	j := strings.LastIndexByte(string(b), ')')
	if j < 0 || j+2 >= len(b) {
		return ""
	}
	return string(b[j+2])
}

// reapIfEnded reaps pid if it has ended and says how it ended.
func reapIfEnded(pid int) (string, bool) {
	var ws unix.WaitStatus
	n, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	if err != nil || n != pid {
		return "", false
	}
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal()), true
	}
	return fmt.Sprintf("exit code %d", ws.ExitStatus()), true
}

// endChildren kills every child of this process (the orphans it
// adopted, and anything else) and reaps them all; it returns how many
// were not among ws.
func endChildren(ws []orphanFate) int {
	known := map[int]bool{}
	for _, w := range ws {
		known[w.PID] = true
	}
	others := 0
	me := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid <= 0 {
			continue
		}
		if atoiField(pid, 1) == me {
			unix.Kill(pid, unix.SIGKILL)
			if !known[pid] {
				others++
			}
		}
	}
	for {
		if _, err := unix.Wait4(-1, nil, 0, nil); err == unix.ECHILD {
			return others
		}
	}
}

// orphanOutcome turns the supervisor's report into the cell's outcome.
func orphanOutcome(sc Scenario, rep orphanReport) Outcome {
	out := Outcome{Scenario: sc, Verdict: WorkersExited}
	for i := range sc.Jobs {
		// The caller died with its parent: whatever it had received is
		// gone with it.
		out.Jobs = append(out.Jobs, JobOutcome{Job: i, State: JobUnresolved, Error: "the caller died with the parent"})
	}
	if !rep.Proven {
		out.Verdict = HangTimeout
	}
	name := func(w orphanFate) string { return fmt.Sprintf("w%d (pid %d)", w.Slot, w.PID) }
	var account, summary []string
	nOrphans := 0
	for _, w := range rep.Workers {
		f := WorkerFate{PID: w.PID, Slot: w.Slot, Job: -1, Exit: w.Exit, Proc: "gone"}
		var how string
		switch {
		case w.Exit != "":
			how = "ended by itself after its parent died: " + w.Exit
			f.State = "exited after its parent died"
		case w.Stuck:
			o := w.Orphan
			nOrphans++
			out.Verdict = Orphans
			out.Stuck = append(out.Stuck, fmt.Sprintf("worker %d", w.PID))
			f.Alive, f.Proc, f.State, f.Job = true, o.Proc, "orphan: "+o.Blocked, int(o.Job)
			how = fmt.Sprintf("an orphan, reparented to pid %d (the subreaper), [%s] wchan %s, %s; blocked on %s",
				o.PPID, o.Proc, o.WChan, o.Doing, o.Blocked)
		default:
			how = "neither ended nor was proven stuck before the backstop"
			if o := w.Orphan; o != nil {
				how += fmt.Sprintf(" ([%s] wchan %s, %s, blocked on %q, ready %v, releasers %v)", o.Proc, o.WChan, o.Doing, o.Blocked, o.Ready, o.Releasers)
			}
			f.Alive, f.State = true, how
		}
		out.Workers = append(out.Workers, f)
		account = append(account, name(w)+": "+how)
		// Not by role: which orphan ends up reading the task pipe and
		// which waits for its lock is a race.
		summary = append(summary, "a worker: "+orphanSummary(w, rep))
	}
	sort.Strings(summary)
	head := fmt.Sprintf("the parent (pid %d) was killed by SIGKILL while a worker held job %d at %s", rep.Parent, rep.Job, rep.Phase)
	shead := fmt.Sprintf("the parent was killed by SIGKILL while a worker held job %d at %s", rep.Job, rep.Phase)
	switch out.Verdict {
	case Orphans:
		tail := fmt.Sprintf("%d %s outlived %s parent for good: each waits on a pipe or a lock that only the orphans could release",
			nOrphans, plural(nOrphans, "worker", "workers"), plural(nOrphans, "its", "their"))
		head, shead = head+"; "+tail, shead+"; "+tail
	case WorkersExited:
		head, shead = head+"; every worker ended by itself", shead+"; every worker ended by itself"
	}
	out.Diagnosis = head + "; " + strings.Join(account, "; ")
	out.Summary = shead + "; " + strings.Join(summary, "; ")
	if rep.Others > 0 {
		out.Diagnosis += fmt.Sprintf("; %d other %s (started after the parent's report) also outlived it and %s ended by the subreaper",
			rep.Others, plural(rep.Others, "process", "processes"), plural(rep.Others, "was", "were"))
	}
	return out
}

// orphanSummary is a worker's fate without pids, inodes or timing.
func orphanSummary(w orphanFate, rep orphanReport) string {
	switch {
	case w.Exit != "":
		// Not its code: whether it read end-of-file (0) or failed
		// writing a result (1) first is a race of the jobs still out.
		return "ended by itself after its parent died"
	case w.Stuck:
		o := w.Orphan
		what := "a lock"
		switch {
		case strings.HasPrefix(o.Blocked, "read"):
			what = "read on the task pipe, whose write end only the orphans hold"
		case strings.HasPrefix(o.Blocked, "write"):
			what = "write on the result pipe, whose read end only the orphans hold"
		case strings.HasPrefix(o.Blocked, "futex"):
			what = "futex, the " + strings.SplitN(strings.TrimPrefix(o.Blocked, "futex: the "), ",", 2)[0] + ", held by an orphan"
		}
		return fmt.Sprintf("orphan reparented to the subreaper, [%s] wchan %s, blocked in %s", o.Proc, o.WChan, what)
	}
	return "unproven at the backstop"
}

// parentKilledAlone: a parent-killed fault is the scenario's only fault.
// Its pool runs in a parent of its own that strikes nothing else (no
// signal, no idle fault), and once the parent is dead no other fault
// has a caller left to affect.
func (sc Scenario) parentKilledAlone() error {
	if !sc.killsParent() || len(sc.Faults) == 1 {
		return nil
	}
	return fmt.Errorf("a parent-killed fault must be the scenario's only fault (it has %d): the pool's parent runs apart and is killed, and no other fault has a caller left to affect", len(sc.Faults))
}

// bigResultAlone: big-result is what the job's function returns, so no
// other fault may strike inside that same call (task-run of the same job):
// which of the two the call ends with would be the harness's choice, not
// the pool's.
func (sc Scenario) bigResultAlone() error {
	for _, f := range sc.Faults {
		k, err := faults.Lookup(f.Kind)
		if err != nil || k.Effect != faults.Outsized {
			continue
		}
		for _, g := range sc.Faults {
			if g != f && g.Job == f.Job && g.Phase == faults.TaskRun {
				return fmt.Errorf("fault=%s with fault=%s: big-result is what job %d's function returns, so no other fault can strike in that call (aim it at another job or phase)", f, g, f.Job)
			}
		}
	}
	return nil
}
