package realpools

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options tune a run. The zero value is ready to use.
type Options struct {
	// Python is the interpreter; empty means FindPython.
	Python string
	// Stall is how long nothing may move before the verdict is
	// no-answer; it is never below MinStall. Zero means: calibrate, that
	// is StallFactor times the pool's own fault-free run of the same
	// shape on this machine (measured once per process and shape).
	Stall time.Duration
}

// MinStall is the shortest stall limit; StallFactor scales the pool's
// fault-free run into one.
const (
	MinStall    = 2 * time.Second
	StallFactor = 5
)

// backstop bounds a run beyond its stall limit and the pool's grace, in
// case the driver itself stops reporting.
const backstop = 60 * time.Second

func (o Options) python() (string, error) {
	if o.Python != "" {
		if _, err := exec.LookPath(o.Python); err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrNoPython, o.Python, err)
		}
		return o.Python, nil
	}
	return FindPython()
}

// Run runs one scenario on the real pool it names, as in
//
//	pool=py:mp.Pool workers=2 jobs=6 wait=map fault=sigkill@task-run:2
//
// and returns the outcome. Every process the run started is dead and
// reaped when Run returns, whatever the path. Errors wrap ErrNoPython,
// ErrUnknownPool, ErrMissingModule, ErrBadScenario or ErrNotApplicable,
// or the context's error.
func Run(ctx context.Context, scenario string, opts Options) (Outcome, error) {
	pool, err := poolOf(scenario)
	if err != nil {
		return Outcome{}, err
	}
	py, err := opts.python()
	if err != nil {
		return Outcome{}, err
	}
	stall := opts.Stall
	if stall == 0 {
		if stall, err = calibrate(ctx, py, pool, scenario); err != nil {
			return Outcome{}, err
		}
	}
	stall = max(stall, MinStall)
	return run(ctx, py, scenario, stall)
}

// poolOf checks the scenario's pool= before any process starts.
func poolOf(scenario string) (Pool, error) {
	for _, f := range strings.Fields(scenario) {
		if v, ok := strings.CutPrefix(f, "pool="); ok {
			return Lookup(v)
		}
	}
	var names []string
	for _, p := range pools {
		names = append(names, p.Name)
	}
	return Pool{}, fmt.Errorf("%w: scenario %q has no pool= (allowed: %s)", ErrBadScenario, scenario, strings.Join(names, ", "))
}

var calibrations sync.Map // shape -> time.Duration

// calibrate runs the scenario's fault-free shape (same pool, workers,
// jobs, payload and wait) once per process and scales its wall time.
func calibrate(ctx context.Context, py string, pool Pool, scenario string) (time.Duration, error) {
	var shape []string
	for _, f := range strings.Fields(scenario) {
		// Without its faults, and without the pool options that make a
		// fault-free run fail or never end (initializer=raise; maxtasks=
		// in 3.11's ProcessPoolExecutor, python/cpython issue 115634).
		if !strings.HasPrefix(f, "fault=") && !strings.HasPrefix(f, "initializer=") && !strings.HasPrefix(f, "maxtasks=") {
			shape = append(shape, f)
		}
	}
	key := py + " " + strings.Join(shape, " ")
	if d, ok := calibrations.Load(key); ok {
		return d.(time.Duration), nil
	}
	o, err := run(ctx, py, strings.Join(shape, " "), MinStall)
	if err != nil {
		return 0, err
	}
	if o.Verdict != Completed {
		return 0, fmt.Errorf("realpools: calibrating %s: the fault-free run was %s", pool.Name, o.Summary())
	}
	d := max(StallFactor*time.Duration(o.WallMS*float64(time.Millisecond)), MinStall)
	calibrations.Store(key, d)
	return d, nil
}

func run(ctx context.Context, py, scenario string, stall time.Duration) (Outcome, error) {
	dir, err := writeDriver()
	if err != nil {
		return Outcome{}, err
	}
	defer os.RemoveAll(dir) // the reaper removes it too, if we die first
	self, err := os.Executable()
	if err != nil {
		return Outcome{}, err
	}
	spec, _ := json.Marshal(reaperSpec{
		Python: py,
		Args:   []string{driverPath(dir), "--stall", strconv.FormatFloat(stall.Seconds(), 'f', 3, 64), scenario},
		Dir:    dir,
	})
	lr, lw, err := os.Pipe()
	if err != nil {
		return Outcome{}, err
	}
	defer lw.Close()
	// -test.run=^$ keeps a test binary that forgot MaybeServeReaper from
	// running its tests again.
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), reaperEnv+"="+string(spec))
	cmd.ExtraFiles = []*os.File{lr}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &tail{max: 64 << 10, b: &stderr}
	// Its own process group, so a terminal's ^C does not kill the reaper
	// before it has swept the run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lr.Close()
		return Outcome{}, err
	}
	lr.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	limit := time.NewTimer(stall + backstop + 70*time.Second)
	defer limit.Stop()
	var cause error
	select {
	case err = <-exited:
	case <-ctx.Done():
		cause = ctx.Err()
	case <-limit.C:
		cause = fmt.Errorf("realpools: the driver gave no verdict within %s", stall+backstop+70*time.Second)
	}
	if cause != nil {
		lw.Close() // the reaper kills and reaps the run, then exits
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		return Outcome{}, cause
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("realpools: reaper: %v: %s", err, stderr.String())
	}
	return parse(scenario, stdout.Bytes(), stderr.String())
}

// parse reads the driver's JSON line and the reaper's status line.
func parse(scenario string, out []byte, stderr string) (Outcome, error) {
	var driver, status []byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		switch {
		case bytes.HasPrefix(line, []byte(`{"reaper"`)):
			status = append([]byte(nil), line...)
		case bytes.HasPrefix(line, []byte("{")):
			driver = append([]byte(nil), line...)
		}
	}
	var st struct{ Reaper reaperStatus }
	if err := json.Unmarshal(status, &st); err != nil {
		return Outcome{}, fmt.Errorf("realpools: no status from the reaper (%v); stderr: %s", err, lastLines(stderr, 5))
	}
	if driver == nil {
		// The Python parent ended without the driver's report: a pool
		// ended it (billiard's os._exit(1) when a handler thread crashes),
		// or it was killed.
		o := Outcome{Scenario: scenario, Verdict: ParentExited, ExitCode: st.Reaper.ExitCode, Stderr: lastLines(stderr, 12)}
		if st.Reaper.Signal != "" {
			o.Stderr = "killed by " + st.Reaper.Signal + "\n" + o.Stderr
		}
		return o, nil
	}
	var msg struct {
		Error string `json:"error"`
		NA    string `json:"na"`
	}
	if err := json.Unmarshal(driver, &msg); err != nil {
		return Outcome{}, fmt.Errorf("realpools: driver output: %v", err)
	}
	switch {
	case msg.Error != "" && strings.Contains(msg.Error, "does not import"):
		return Outcome{}, fmt.Errorf("%w: %s", ErrMissingModule, msg.Error)
	case msg.Error != "":
		return Outcome{}, fmt.Errorf("%w: %s", ErrBadScenario, msg.Error)
	case msg.NA != "":
		return Outcome{}, fmt.Errorf("%w: %s", ErrNotApplicable, msg.NA)
	}
	var o Outcome
	if err := json.Unmarshal(driver, &o); err != nil {
		return Outcome{}, fmt.Errorf("realpools: driver output: %v", err)
	}
	if o.Verdict == "" {
		return Outcome{}, errors.New("realpools: the driver reported no verdict")
	}
	o.Stderr = lastLines(stderr, 12)
	return o, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tail keeps the last max bytes written to it (a pool may log a lot).
type tail struct {
	max int
	b   *bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.b.Write(p)
	if over := t.b.Len() - t.max; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}
