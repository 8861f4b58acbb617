// Package scenarios is where faults meet pools: scenario definitions and
// their text form, the runner that makes the faults happen for real, the
// verdicts proven from the pools' snapshots, and the expectations argued
// from each pool's mechanism.
package scenarios

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
)

// A WaitStyle is how the caller waits for its jobs.
type WaitStyle string

const (
	// WaitMap: pool.map(f, jobs), one call that returns when every job is in.
	WaitMap WaitStyle = "map"
	// WaitGet: apply_async per job, then .get() on each in order.
	WaitGet WaitStyle = "get"
	// WaitJoin: apply_async per job, then close() and join(), then get()
	// on each (join may return with jobs that were never answered).
	WaitJoin WaitStyle = "join"
)

// WaitStyles lists the waiting styles: map, get and join, the call
// styles of callstyles.go, and the ending styles of endings.go.
func WaitStyles() []WaitStyle {
	return append([]WaitStyle{WaitMap, WaitGet, WaitJoin, WaitCallback, WaitIMap, WaitIMapUnordered}, endingStyles()...)
}

// Limits on a scenario's size.
const (
	MaxJobs    = 4096
	MaxFaults  = 8
	MaxPayload = 64 << 20
)

// A Fault is one fault of a scenario's plan.
type Fault struct {
	Kind  string
	Phase faults.Phase
	// Job is the targeted job for job phases; -1 for idle phases, which
	// strike an idle worker before the jobs are submitted.
	Job int
}

func (f Fault) String() string {
	if f.Job < 0 {
		return f.Kind + "@" + string(f.Phase)
	}
	return fmt.Sprintf("%s@%s:%d", f.Kind, f.Phase, f.Job)
}

// A Scenario is a pool, its jobs, a fault plan and how the caller waits.
// Job i is square(i), or, with Payload > 0, an echo of Payload bytes.
type Scenario struct {
	Pool    pools.Strategy
	Workers int
	Jobs    int
	Payload int
	Faults  []Fault
	Wait    WaitStyle
	// Deadline is the tracked pool's per-task deadline (0: none).
	Deadline time.Duration
	// ChunkSize is Pool.map's chunksize argument, for the naive and
	// respawn pools with wait=map (0: Pool.map's default,
	// pools.DefaultChunkSize).
	ChunkSize int
	// MaxTasks is how many tasks a worker runs before it retires
	// (maxtasks=N: Pool's maxtasksperchild, ProcessPoolExecutor's
	// max_tasks_per_child); 0: no limit.
	MaxTasks int
	// Initializer is what the pool's initializer does in every worker
	// (initializer=raise); "": the pool has none.
	Initializer string
	// Start is a real pool's start method (fork, forkserver or spawn;
	// "" for the pool's default). The models' workers are re-executed,
	// a spawn-like start, and take none.
	Start string
}

// String is the scenario's text form, which Parse reads back:
//
//	pool=naive workers=2 jobs=6 wait=map fault=segfault@task-run:2
func (s Scenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pool=%s workers=%d jobs=%d", s.Pool, s.Workers, s.Jobs)
	if s.Payload > 0 {
		fmt.Fprintf(&b, " payload=%d", s.Payload)
	}
	if s.Deadline > 0 {
		fmt.Fprintf(&b, " deadline=%s", s.Deadline)
	}
	if s.ChunkSize > 0 {
		fmt.Fprintf(&b, " chunksize=%d", s.ChunkSize)
	}
	s.lifecycleString(&b)
	if s.Start != "" {
		fmt.Fprintf(&b, " start=%s", s.Start)
	}
	fmt.Fprintf(&b, " wait=%s", s.Wait)
	for _, f := range s.Faults {
		b.WriteString(" fault=" + f.String())
	}
	return b.String()
}

// Command is the shell command that replays the scenario.
func (s Scenario) Command() string {
	return "go run ./cmd/poolhang run '" + s.String() + "'"
}

// Parse reads a scenario's text form. Keys may come in any order; fault
// may repeat. Every error names what is wrong and what is allowed.
func Parse(text string) (Scenario, error) {
	s := Scenario{Wait: WaitMap}
	seen := map[string]bool{}
	for _, field := range strings.Fields(text) {
		if len(field) > maxField {
			return Scenario{}, fmt.Errorf("scenario: field %s is %d bytes, longer than any scenario field (%d)", short(field), len(field), maxField)
		}
		key, val, ok := strings.Cut(field, "=")
		if !ok {
			return Scenario{}, fmt.Errorf("scenario: %s is not key=value (keys: %s)", short(field), keyList)
		}
		if seen[key] && key != "fault" {
			return Scenario{}, fmt.Errorf("scenario: %s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "pool":
			s.Pool, err = parsePool(val)
		case "workers":
			s.Workers, err = parseInt(key, val)
		case "jobs":
			s.Jobs, err = parseInt(key, val)
		case "payload":
			s.Payload, err = parseInt(key, val)
		case "chunksize":
			s.ChunkSize, err = parseInt(key, val)
			if err == nil && s.ChunkSize < 1 {
				err = fmt.Errorf("chunksize=%d, allowed 1 to %d (leave it out for Pool.map's default)", s.ChunkSize, MaxJobs)
			}
		case "wait":
			s.Wait, err = parseWait(val)
		case "start":
			s.Start, err = parseStart(val)
		case "deadline":
			s.Deadline, err = time.ParseDuration(val)
			switch {
			case err != nil:
				err = fmt.Errorf("deadline=%s is not a duration (as in 500ms)", short(val))
			case s.Deadline <= 0:
				err = fmt.Errorf("deadline=%s: a deadline is positive (as in 500ms); leave it out for none", val)
			}
		case "fault":
			var f Fault
			f, err = parseFault(val)
			s.Faults = append(s.Faults, f)
		case "maxtasks":
			s.MaxTasks, err = parseMaxTasks(val)
		case "initializer":
			s.Initializer, err = parseInitializer(val)
		default:
			err = fmt.Errorf("unknown key %s (keys: %s)", short(key), keyList)
		}
		if err != nil {
			return Scenario{}, fmt.Errorf("scenario: %w", err)
		}
	}
	for _, k := range []string{"pool", "workers", "jobs"} {
		if !seen[k] {
			return Scenario{}, fmt.Errorf("scenario: missing %s= (need pool, workers and jobs)", k)
		}
	}
	if err := s.Validate(); err != nil {
		return Scenario{}, err
	}
	return s, nil
}

// maxField bounds one field of the text form: the longest legal one is a
// fault of a few dozen bytes.
const maxField = 128

// short quotes s for an error message, escaping control characters and
// cutting it to a prefix: an error never echoes a long input whole.
func short(s string) string {
	const n = 32
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:n]) + "..."
}

func strategyList() string {
	var names []string
	for _, p := range pools.Strategies() {
		names = append(names, string(p))
	}
	return strings.Join(names, ", ")
}

// parsePool reads pool=: a model strategy, or a real Python pool (py:...).
func parsePool(val string) (pools.Strategy, error) {
	if _, err := pools.ParseStrategy(val); err == nil {
		return pools.Strategy(val), nil
	}
	if _, err := realpools.Lookup(val); err == nil {
		return pools.Strategy(val), nil
	}
	return "", fmt.Errorf("unknown pool %s (allowed: %s; or a real Python pool: %s)", short(val), strategyList(), realList())
}

func realList() string {
	var names []string
	for _, p := range realpools.Pools() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// Real reports whether the scenario names a real Python pool (pool=py:...),
// which RunReal runs, rather than a model, which Run runs.
func (s Scenario) Real() bool {
	_, err := realpools.Lookup(string(s.Pool))
	return err == nil
}

func parseInt(key, val string) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil {
		return 0, fmt.Errorf("%s=%s is not a whole number", key, short(val))
	}
	return n, nil
}

func parseWait(val string) (WaitStyle, error) {
	for _, w := range WaitStyles() {
		if string(w) == val {
			return w, nil
		}
	}
	return "", fmt.Errorf("unknown wait style %s (allowed: %s)", short(val), waitList())
}

// parseFault reads KIND@PHASE:JOB, or KIND@PHASE for idle phases.
func parseFault(val string) (Fault, error) {
	kind, rest, ok := strings.Cut(val, "@")
	if !ok {
		return Fault{}, fmt.Errorf("fault %s: want KIND@PHASE:JOB (or KIND@PHASE for idle phases)", short(val))
	}
	if _, err := faults.Lookup(kind); err != nil {
		return Fault{}, fmt.Errorf("fault %s: %w", short(val), err)
	}
	phase, job, hasJob := strings.Cut(rest, ":")
	info, err := faults.ParsePhase(phase)
	if err != nil {
		return Fault{}, fmt.Errorf("fault %s: %w", short(val), err)
	}
	f := Fault{Kind: kind, Phase: info.Phase, Job: -1}
	switch {
	case !info.TakesJob() && hasJob:
		return Fault{}, fmt.Errorf("fault %s: %s strikes a worker before any job exists; drop the :%s", short(val), phase, job)
	case info.TakesJob() && !hasJob:
		return Fault{}, fmt.Errorf("fault %s: %s needs a target job, as in %s@%s:2", short(val), phase, kind, phase)
	case hasJob:
		if f.Job, err = strconv.Atoi(job); err != nil || f.Job < 0 {
			return Fault{}, fmt.Errorf("fault %s: target job %s is not a job number (0, 1, ...)", short(val), short(job))
		}
	}
	return f, nil
}

// Validate reports the first reason the scenario cannot run.
func (s Scenario) Validate() error {
	if _, err := parsePool(string(s.Pool)); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if s.Workers < 1 || s.Workers > pools.MaxWorkers {
		return fmt.Errorf("scenario: workers=%d, allowed 1 to %d", s.Workers, pools.MaxWorkers)
	}
	if s.Jobs < 0 || s.Jobs > MaxJobs {
		return fmt.Errorf("scenario: jobs=%d, allowed 0 to %d", s.Jobs, MaxJobs)
	}
	if s.Payload < 0 || s.Payload > MaxPayload {
		return fmt.Errorf("scenario: payload=%d, allowed 0 to %d bytes", s.Payload, MaxPayload)
	}
	if s.Deadline != 0 && s.Real() {
		return fmt.Errorf("scenario: deadline=%s: %s has no per-task deadline; only the tracked model has one", s.Deadline, s.Pool)
	}
	if s.Deadline < 0 || (s.Deadline > 0 && !s.Pool.Supports(pools.OptionTaskTimeout)) {
		return fmt.Errorf("scenario: deadline=%s: only %s per-task deadlines, and they are positive", s.Deadline, poolsWith(pools.OptionTaskTimeout, "has", "have"))
	}
	if s.Deadline > MaxDeadline {
		return fmt.Errorf("scenario: deadline=%s, allowed up to %s (so that %d stuck tasks in a row are answered before the 20s backstop)", s.Deadline, MaxDeadline, MaxFaults+1)
	}
	if err := s.Fits(thisMachine(s.Needs().Memory > 256<<20)); err != nil {
		return err
	}
	if _, err := parseWait(string(s.Wait)); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if err := s.validWait(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if err := s.validChunkSize(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if err := s.validCallStyle(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if err := s.validLifecycle(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if len(s.Faults) > MaxFaults {
		return fmt.Errorf("scenario: %d faults, at most %d", len(s.Faults), MaxFaults)
	}
	if s.Start != "" && !s.Real() {
		return fmt.Errorf("scenario: start=%s: a start method is a real pool's option; the models' workers are re-executed, a spawn-like start", s.Start)
	}
	if err := s.oneStartFault(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if err := s.ctrlCWaits(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if err := s.bigResultAlone(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	if err := s.parentKilledAlone(); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	for _, f := range s.Faults {
		k, err := faults.Lookup(f.Kind)
		if err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
		info, err := faults.ParsePhase(string(f.Phase))
		if err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
		if err := s.check(k, f.Phase); err != nil {
			return fmt.Errorf("scenario: %w", err)
		}
		switch {
		case !info.TakesJob() && f.Job >= 0:
			return fmt.Errorf("scenario: fault %s: idle and start phases target a worker, not job %d", f, f.Job)
		case info.TakesJob() && (f.Job < 0 || f.Job >= s.Jobs):
			return fmt.Errorf("scenario: fault %s targets job %d, but the scenario has %d jobs (0 to %d)", f, f.Job, s.Jobs, s.Jobs-1)
		}
	}
	return nil
}

// check is the catalog's check of a fault at a phase. A real pool's own
// n/a cells (pebble has no shared read lock, say) are the driver's to
// name (realpools.ErrNotApplicable); here it gets the checks that hold
// for every pool: the kind strikes at that phase, and an idle waiter
// needs a second worker.
func (s Scenario) check(k faults.Kind, ph faults.Phase) error {
	if !s.Real() {
		return k.Check(s.Pool, ph, s.Workers)
	}
	return k.Check(pools.Respawn, ph, s.Workers) // a pool with a shared read lock: the widest case
}

// validChunkSize: only the strategies that take OptionChunkSize
// (multiprocessing.Pool.map's, and failfast's ProcessPoolExecutor.map's)
// take a chunk size here; tracked sends each task alone.
func (s Scenario) validChunkSize() error {
	switch {
	case s.ChunkSize == 0:
		return nil
	case s.Real() && ChunksNA(s.Pool) != "":
		return fmt.Errorf("chunksize=%d: %s: %s", s.ChunkSize, s.Pool, ChunksNA(s.Pool))
	case s.ChunkSize < 0 || s.ChunkSize > MaxJobs:
		return fmt.Errorf("chunksize=%d, allowed 1 to %d (leave it out for Pool.map's default)", s.ChunkSize, MaxJobs)
	case s.Real() && s.Wait != WaitMap && !s.imap():
		return fmt.Errorf("chunksize=%d: a chunk size is map's and imap's argument; wait=%s submits each job alone", s.ChunkSize, s.Wait)
	case s.Real():
		return nil
	case s.ChunkSize < 0 || s.ChunkSize > MaxJobs:
		return fmt.Errorf("chunksize=%d, allowed 1 to %d (leave it out for Pool.map's default)", s.ChunkSize, MaxJobs)
	case !s.Pool.Supports(pools.OptionChunkSize):
		return fmt.Errorf("chunksize=%d: only %s a chunk size, not %s", s.ChunkSize, poolsWith(pools.OptionChunkSize, "(Pool.map or ProcessPoolExecutor.map) takes", "(Pool.map or ProcessPoolExecutor.map) take"), s.Pool)
	case s.Wait != WaitMap && !s.imap():
		return fmt.Errorf("chunksize=%d: a chunk size is map's and imap's argument; wait=%s submits each job alone (apply_async)", s.ChunkSize, s.Wait)
	}
	return nil
}

// Standard is a matrix cell's scenario, shaped like CPython's own deadlock
// tests: 2 workers, 6 jobs submitted as one map, the fault aimed at job 2
// (for idle phases, at an idle worker before the map is submitted). A
// pool that takes a per-task deadline (tracked) gets StandardDeadline,
// unless its expectations say why not (pebble).
func Standard(pool pools.Strategy, kind string, phase faults.Phase) Scenario {
	f := Fault{Kind: kind, Phase: phase, Job: 2}
	if info, err := faults.ParsePhase(string(phase)); err == nil && !info.TakesJob() {
		f.Job = -1
	}
	sc := Scenario{Pool: pool, Workers: 2, Jobs: 6, Wait: WaitMap, Faults: []Fault{f}}
	if k, err := faults.Lookup(kind); err == nil && k.Wait != "" {
		sc.Wait = WaitStyle(k.Wait) // the kind is about how the caller waits
	}
	if pool.Supports(pools.OptionTaskTimeout) && expectations[pool].NoStandardDeadline == "" {
		sc.Deadline = StandardDeadline
	}
	return sc
}

// poolsWith names the strategies that take option o, for an error,
// followed by verb in the singular or the plural: "the tracked pool has",
// "the naive and respawn pools have".
func poolsWith(o pools.Option, singular, plural string) string {
	var names []string
	for _, p := range pools.StrategiesWith(o) {
		names = append(names, string(p))
	}
	switch n := len(names); n {
	case 0:
		return "no pool " + singular
	case 1:
		return "the " + names[0] + " pool " + singular
	default:
		return "the " + strings.Join(names[:n-1], ", ") + " and " + names[n-1] + " pools " + plural
	}
}

// StandardDeadline is the tracked pool's per-task deadline in the matrix:
// far above any square(i), so only a task that never returns meets it.
const StandardDeadline = 500 * time.Millisecond

// A Cell is a (pool, kind, phase) combination of the matrix, in one of its
// sections.
type Cell struct {
	Pool  pools.Strategy
	Kind  string
	Phase faults.Phase
	// Section is the call style or option the cell is run with ([Section]);
	// "" for the standard section.
	Section string
}

func (c Cell) String() string {
	if c.Section != "" {
		return fmt.Sprintf("%s:%s/%s@%s", c.Section, c.Pool, c.Kind, c.Phase)
	}
	return fmt.Sprintf("%s/%s@%s", c.Pool, c.Kind, c.Phase)
}

// Cells lists every meaningful cell, from the fault catalog: the standard
// section's (strategies in order, then kinds, then phases), then each
// other section's.
func Cells() []Cell {
	out := StandardCells()
	for _, s := range Sections() {
		out = append(out, sectionCells(s)...)
	}
	return out
}

// StandardCells lists the standard section's cells: strategies in order,
// then kinds, then phases.
func StandardCells() []Cell {
	var out []Cell
	for _, p := range pools.Strategies() {
		for _, k := range faults.Kinds() {
			for _, ph := range k.Meaningful() {
				if k.Check(p, ph, 2) == nil {
					out = append(out, Cell{Pool: p, Kind: k.Name, Phase: ph})
				}
			}
		}
	}
	return out
}

// ReadReplay reads scenarios from a replay file: one scenario per line in
// text form; blank lines and lines starting with # are skipped.
func ReadReplay(r io.Reader) ([]Scenario, error) {
	var out []Scenario
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if !utf8Printable(text) {
			return nil, fmt.Errorf("replay line %d: not a scenario (binary or control characters)", line)
		}
		s, err := Parse(text)
		if err != nil {
			return nil, fmt.Errorf("replay line %d: %w", line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("replay file: a line longer than 1 MiB is not a scenario")
		}
		return nil, fmt.Errorf("replay file: %w", err)
	}
	return out, nil
}

func utf8Printable(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' || (r < 0x20 && r != '\t') || r == 0x7f {
			return false
		}
	}
	return true
}
