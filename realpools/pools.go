package realpools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// A Pool is a real pool the driver can run.
type Pool struct {
	// Name is how a scenario names it: pool=py:mp.Pool.
	Name string
	// What is the real system.
	What string
	// Model is the poolhang strategy that models it, if any.
	Model string
	// Module is the Python module it needs beyond the standard library.
	Module string
}

var pools = []Pool{
	{"py:mp.Pool", "CPython's multiprocessing.Pool (Lib/multiprocessing/pool.py)", "respawn", ""},
	{"py:ProcessPoolExecutor", "CPython's concurrent.futures.ProcessPoolExecutor (Lib/concurrent/futures/process.py)", "failfast", ""},
	{"py:billiard", "billiard.Pool, Celery's fork of multiprocessing.Pool", "billiard", "billiard"},
	{"py:loky", "loky's reusable executor, shipped in joblib as joblib.externals.loky", "loky", "joblib.externals.loky"},
	{"py:pebble", "pebble.ProcessPool", "pebble", "pebble"},
}

// Pools lists the real pools in matrix order. The naive model (Python
// 2.6's Pool) has no runnable counterpart: there is no Python 2 here.
func Pools() []Pool { return append([]Pool(nil), pools...) }

// Install says how to get the peers' modules for the system Python 3.
const Install = "apt-get install python3-billiard python3-joblib python3-pebble"

// Errors that Run and Available wrap; test them with errors.Is.
var (
	ErrNoPython      = errors.New("no Python 3 found")
	ErrUnknownPool   = errors.New("unknown real pool")
	ErrMissingModule = errors.New("a Python module the pool needs does not import")
	ErrBadScenario   = errors.New("the driver cannot run this scenario")
	// ErrNotApplicable: the real pool has no point where the fault could
	// strike (pebble's idle workers hold no lock, say); the reason says why.
	ErrNotApplicable = errors.New("n/a")
)

// Lookup returns the real pool called name.
func Lookup(name string) (Pool, error) {
	var names []string
	for _, p := range pools {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Pool{}, fmt.Errorf("%w %q (allowed: %s)", ErrUnknownPool, name, strings.Join(names, ", "))
}

// FindPython returns the Python to run: $POOLHANG_PYTHON, else
// /usr/bin/python3 (the system Python, where Debian installs the peers),
// else python3 on PATH (pyenv's, say, which may lack the peers).
func FindPython() (string, error) {
	if p := os.Getenv("POOLHANG_PYTHON"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%w: POOLHANG_PYTHON=%s: %v", ErrNoPython, p, err)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3", nil
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		return "", fmt.Errorf("%w: set POOLHANG_PYTHON, or install /usr/bin/python3 (apt-get install python3)", ErrNoPython)
	}
	return p, nil
}

// Availability is what a Python offers: its version and, per pool,
// whether it imports.
type Availability struct {
	Python     string                `json:"executable"`
	Version    string                `json:"python"`
	PoolStatus map[string]PoolStatus `json:"pools"`
}

// A PoolStatus says whether a pool's module imports, with its version or
// the import error.
type PoolStatus struct {
	OK      bool   `json:"ok"`
	Version string `json:"version"`
	Error   string `json:"error"`
}

// Missing lists the pools whose modules do not import, each with why.
func (a Availability) Missing() []string {
	var out []string
	for _, p := range pools {
		if st := a.PoolStatus[p.Name]; !st.OK {
			out = append(out, fmt.Sprintf("%s (module %s: %s)", p.Name, p.Module, st.Error))
		}
	}
	return out
}

// Available asks the Python (opts.Python, else FindPython) which pools
// import. It starts no pool.
func Available(ctx context.Context, opts Options) (Availability, error) {
	py, err := opts.python()
	if err != nil {
		return Availability{}, err
	}
	dir, err := writeDriver()
	if err != nil {
		return Availability{}, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, py, driverPath(dir), "--probe")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		return Availability{}, fmt.Errorf("realpools: probing %s: %v", py, err)
	}
	var a Availability
	if err := json.Unmarshal(out, &a); err != nil {
		return Availability{}, fmt.Errorf("realpools: probing %s: %v in %q", py, err, out)
	}
	return a, nil
}
