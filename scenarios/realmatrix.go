package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/waitgraph"
)

// Files of the real pools' results, in a results directory.
const (
	// RealJSON is every real cell: results/real.json. Like matrix.json
	// it holds only what every run shows (workers and threads by role),
	// except the counts of a cell that differs from run to run.
	RealJSON = "real.json"
	// RealGenerationJSON is when, with which Python and library
	// versions, and how long: the one real file every run rewrites.
	RealGenerationJSON = "real-generated.json"
	// RealCommand regenerates them.
	RealCommand = "go run ./cmd/poolhang matrix --real"
	// RealRuns is how many times RealCommand runs each cell, so that a
	// cell that differs from run to run shows it.
	RealRuns = 3
)

// A RealMatrix is every standard cell on every real pool: results/real.json.
type RealMatrix struct {
	Command string `json:"command"`
	// Runs is how many times each cell ran.
	Runs int `json:"runs"`
	// Missing lists the pools whose modules did not import, with how to
	// install them; their cells are absent.
	Missing []string   `json:"missing"`
	Cells   []RealCell `json:"cells"`
}

// A RealCell is one matrix scenario on one real pool.
type RealCell struct {
	// Section is the matrix section ([Section]); absent for the standard.
	Section string `json:"section,omitempty"`
	Pool    string `json:"pool"`
	Fault   string `json:"fault"`
	Phase   string `json:"phase"`
	// Verdict is completed, raised, no-answer, parent-exited,
	// wrong-value, or n/a (the pool has no such point; NA says why). For
	// a cell that differed between runs it is the verdict seen most.
	Verdict string `json:"verdict"`
	// Seen counts each verdict, only where the runs differed.
	Seen map[string]int `json:"seen,omitempty"`
	// Race is why this cell can differ from run to run, argued from the
	// pool's source (realRace), where it can.
	Race string `json:"race,omitempty"`
	// Error is the class of the error the caller's call raised, and Kind
	// its models' kind (RealErrorKind).
	Error string `json:"error,omitempty"`
	Kind  string `json:"kind,omitempty"`
	NA    string `json:"na,omitempty"`
	// Grace says, where the pool answers only after a grace period of
	// its own (billiard's LOST_WORKER_TIMEOUT), that the answer came
	// after it.
	Grace string `json:"grace,omitempty"`
	// Evidence is the run's account (RealEvidence, without pids).
	Evidence  []string `json:"evidence,omitempty"`
	Reproduce string   `json:"reproduce"`
	// Graph is the observed wait-for graph of a no-answer cell, relative
	// to the results directory, once one is drawn (see RealGraph).
	Graph string `json:"graph,omitempty"`
	// outcome is the run the cell records, for its graph.
	outcome *realpools.Outcome
}

// Outcome is the run the cell records (nil for n/a, or when the cell was
// read from a file).
func (c RealCell) Outcome() *realpools.Outcome { return c.outcome }

// A RealGeneration records when, where, with which Python and library
// versions the real cells ran, and how long each took:
// results/real-generated.json.
type RealGeneration struct {
	Generated string            `json:"generated"`
	Command   string            `json:"command"`
	Python    string            `json:"python"`
	Versions  map[string]string `json:"versions"`
	Machine   string            `json:"machine"`
	Go        string            `json:"go"`
	WallS     float64           `json:"wall_s"`
	Timings   []RealTiming      `json:"timings"`
	// Reruns lists the no-answers rerun to confirm them (RunRealMatrix).
	Reruns []string `json:"reruns"`
}

// RealTiming is how long each run of a cell took, and its stall limit.
type RealTiming struct {
	Cell   string    `json:"cell"`
	TookS  []float64 `json:"took_s"`
	LimitS float64   `json:"limit_s"`
}

// Cell returns the standard real cell of pool at kind@phase, if present.
func (r RealMatrix) Cell(pool, kind string, phase faults.Phase) (RealCell, bool) {
	return r.CellIn("", pool, kind, phase)
}

// CellIn returns the real cell of pool at kind@phase in a section ("" for
// the standard one), if present.
func (r RealMatrix) CellIn(section, pool, kind string, phase faults.Phase) (RealCell, bool) {
	for _, c := range r.Cells {
		if c.Section == section && c.Pool == pool && c.Fault == kind && c.Phase == string(phase) {
			return c, true
		}
	}
	return RealCell{}, false
}

// RealCells lists the cells to run on the real pools named: every
// standard cell, then each section's rows, shaped as the section shapes
// its models' scenarios, on each pool the section does not declare n/a.
func RealCells(names []string) []realpools.Cell {
	cells := realpools.StandardCells(names)
	for _, s := range Sections() {
		for _, n := range names {
			if s.notApplicable(pools.Strategy(n)) != "" {
				continue
			}
			for _, r := range s.Rows {
				// Shaped first: a caller's phase (raise@callback) is
				// valid only with its section's wait style.
				sc := s.Shape(Standard(pools.Strategy(n), r.Kind, r.Phase))
				if err := sc.Validate(); err != nil {
					continue // the catalog rejects the row for real pools too
				}
				cells = append(cells, realpools.Cell{Pool: n, Fault: r.String(), Section: s.Name, Scenario: sc.String()})
			}
		}
	}
	return cells
}

// realOrder ranks real cells as the matrix lists them: the standard
// section, then each section in order; within one, pools in realpools
// order, then rows in the section's (the catalog's) order.
func realOrder() func(c realpools.Cell) [3]int {
	sect := map[string]int{"": 0}
	rows := map[string]int{}
	for i, kp := range realpools.StandardFaults() {
		rows[" "+kp[0]+"@"+kp[1]] = i
	}
	for i, s := range Sections() {
		sect[s.Name] = i + 1
		for j, r := range s.Rows {
			rows[s.Name+" "+r.String()] = j
		}
	}
	pool := map[string]int{}
	for i, p := range realpools.Pools() {
		pool[p.Name] = i
	}
	return func(c realpools.Cell) [3]int {
		return [3]int{sect[c.Section], pool[c.Pool], rows[c.Section+" "+c.Fault]}
	}
}

// Pools lists the real pools the matrix has cells of, in realpools order.
func (r RealMatrix) Pools() []string {
	var out []string
	for _, p := range realpools.Pools() {
		for _, c := range r.Cells {
			if c.Pool == p.Name {
				out = append(out, p.Name)
				break
			}
		}
	}
	return out
}

// RunRealMatrix runs every standard cell on every real pool whose module
// imports, runs times each, all at once (a real run mostly waits), and
// calls progress after each run. A pool that does not import is listed
// in Missing, with how to install it.
func RunRealMatrix(ctx context.Context, runs int, progress func(done, total int, c RealCell, took time.Duration)) (RealMatrix, RealGeneration, error) {
	start := time.Now()
	r := RealMatrix{Command: RealCommand, Runs: max(runs, 1), Missing: []string{}}
	g := RealGeneration{Generated: start.UTC().Format(time.RFC3339), Command: RealCommand, Versions: map[string]string{},
		Go: runtime.Version(), Machine: machine(), Reruns: []string{}}
	names, err := realAvailable(ctx, &r, &g)
	if err != nil {
		return r, g, err
	}
	got, err := runRealCells(ctx, names, r.Runs, progress)
	if err != nil {
		return r, g, err
	}
	if err := confirmNoAnswers(ctx, got, &g); err != nil {
		return r, g, err
	}
	var all []realpools.Cell
	for _, cs := range got {
		all = append(all, cs...)
	}
	rec, err := RecordReal(all, r.Runs)
	if err != nil {
		return r, g, err
	}
	r.Cells = rec.Cells
	for _, c := range r.Cells {
		t := RealTiming{Cell: sectionPrefix(c.Section) + c.Pool + "/" + c.Fault + "@" + c.Phase}
		for _, x := range got[realKey{c.Section, c.Pool, c.Fault + "@" + c.Phase}] {
			if x.Err == nil {
				t.TookS = append(t.TookS, math.Round(x.Outcome.Took().Seconds()*100)/100)
				t.LimitS = x.Outcome.LimitS
			}
		}
		g.Timings = append(g.Timings, t)
	}
	g.WallS = math.Round(time.Since(start).Seconds()*10) / 10
	return r, g, nil
}

// realAvailable lists the real pools that import, recording the Python,
// their versions, and the missing ones with how to install them.
func realAvailable(ctx context.Context, r *RealMatrix, g *RealGeneration) ([]string, error) {
	a, err := realpools.Available(ctx, realpools.Options{})
	if err != nil {
		return nil, err
	}
	g.Python = a.Version + " (" + a.Python + ")"
	var names []string
	for _, p := range realpools.Pools() {
		if st := a.PoolStatus[p.Name]; st.OK {
			names = append(names, p.Name)
			g.Versions[p.Name] = st.Version
		} else {
			r.Missing = append(r.Missing, fmt.Sprintf("%s (%s; install with %s)", p.Name, st.Error, realpools.Install))
		}
	}
	return names, nil
}

type realKey struct{ section, pool, fault string }

func keyOf(c realpools.Cell) realKey { return realKey{c.Section, c.Pool, c.Fault} }

// runRealCells runs every standard cell of the pools named, runs times.
// One run of the whole matrix after another: each calibrates its pools
// alone, so that one run's load does not stretch another's stall limits,
// and a real run mostly waits, so one matrix at a time keeps 2 cores busy
// enough.
func runRealCells(ctx context.Context, names []string, runs int, progress func(done, total int, c RealCell, took time.Duration)) (map[realKey][]realpools.Cell, error) {
	got := map[realKey][]realpools.Cell{}
	todo := RealCells(names)
	total := len(todo) * runs
	done := 0
	for range runs {
		cells, err := realpools.Matrix(ctx, todo, realpools.Options{}, 256, func(c realpools.Cell) {
			done++ // Matrix calls progress under its lock
			if progress != nil {
				progress(done, total, realCell(c), c.Outcome.Took())
			}
		})
		if err != nil {
			return nil, err
		}
		for _, c := range cells {
			if c.Err != nil && !errors.Is(c.Err, realpools.ErrNotApplicable) {
				// The driver could not set the cell up (on a loaded machine
				// loky's idle workers may not settle within its 10 s): run
				// it again alone, once; a second failure ends the matrix.
				c.Outcome, c.Err = realpools.Run(ctx, c.Text(), realpools.Options{})
			}
			got[keyOf(c)] = append(got[keyOf(c)], c)
		}
	}
	return got, nil
}

// modelAnswers reports whether the model paired with the real pool of k
// is expected, from its mechanism, to answer the cell (so a no-answer
// there is doubtful even if every run gave it).
func modelAnswers(k realKey, kind string, phase faults.Phase) bool {
	for _, p := range Pairs() {
		if p.Real != k.pool {
			continue
		}
		e, err := Expect(Cell{Pool: p.Model, Kind: kind, Phase: phase, Section: k.section})
		return err == nil && (e.Verdict == Completed || e.Verdict == Raised)
	}
	return false
}

// confirmNoAnswers reruns doubtful no-answers. A no-answer is an
// observation bounded in time; where the pool's source gives no race for
// the cell and its runs differ, or its model is expected to answer it,
// each no-answer is rerun alone with
// twice its stall limit, and the rerun is recorded instead (a pool starved
// for its whole stall limit on a loaded machine looks stuck). The
// generation lists each rerun.
func confirmNoAnswers(ctx context.Context, got map[realKey][]realpools.Cell, g *RealGeneration) error {
	for k, cs := range got {
		kind, phase, _ := strings.Cut(k.fault, "@")
		if realRaceIn(k.section, k.pool, kind, faults.Phase(phase)) != "" || !differ(cs) && !modelAnswers(k, kind, faults.Phase(phase)) {
			continue
		}
		for i, c := range cs {
			if c.Err != nil || c.Outcome.Verdict != realpools.NoAnswer {
				continue
			}
			o, err := realpools.Run(ctx, c.Text(),
				realpools.Options{Stall: 2 * time.Duration(c.Outcome.LimitS*float64(time.Second))})
			if err != nil {
				return err
			}
			g.Reruns = append(g.Reruns, fmt.Sprintf("%s %s%s: no-answer after %.1f s, rerun alone with twice the stall limit: %s",
				k.pool, sectionPrefix(k.section), k.fault, c.Outcome.NoProgressMS/1000, o.Summary()))
			cs[i].Outcome = o
		}
	}
	sort.Strings(g.Reruns)
	return nil
}

// RecordReal records real cells (every run of each) as a RealMatrix, in
// the matrix's order (realOrder).
func RecordReal(cells []realpools.Cell, runs int) (RealMatrix, error) {
	r := RealMatrix{Command: RealCommand, Runs: runs, Missing: []string{}}
	by := map[realKey][]realpools.Cell{}
	var keys []realKey
	rank := realOrder()
	at := map[realKey][3]int{}
	for _, c := range cells {
		k := keyOf(c)
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
			at[k] = rank(c)
		}
		by[k] = append(by[k], c)
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := at[keys[i]], at[keys[j]]
		for x := range a {
			if a[x] != b[x] {
				return a[x] < b[x]
			}
		}
		return false
	})
	for _, k := range keys {
		c, err := mergeRuns(by[k])
		if err != nil {
			return r, err
		}
		r.Cells = append(r.Cells, c)
	}
	return r, nil
}

// sectionPrefix is "imap:" for a section's cell, "" for a standard one.
func sectionPrefix(section string) string {
	if section == "" {
		return ""
	}
	return section + ":"
}

// mergeRuns records a cell's runs: the verdict seen most (the first run's
// on a tie), with its first run's evidence, and the counts if they
// differ.
func mergeRuns(runs []realpools.Cell) (RealCell, error) {
	seen := map[string]int{}
	var cells []RealCell
	for _, x := range runs {
		if x.Err != nil && !errors.Is(x.Err, realpools.ErrNotApplicable) {
			return RealCell{}, fmt.Errorf("%s %s%s: %w", x.Pool, sectionPrefix(x.Section), x.Fault, x.Err)
		}
		c := realCell(x)
		seen[c.Verdict]++
		cells = append(cells, c)
	}
	best := cells[0]
	for _, c := range cells {
		if seen[c.Verdict] > seen[best.Verdict] {
			best = c
		}
	}
	if len(seen) > 1 {
		best.Seen = seen
	}
	return best, nil
}

func differ(cs []realpools.Cell) bool {
	for _, c := range cs {
		if c.Err != nil || c.Outcome.Verdict != cs[0].Outcome.Verdict {
			return true
		}
	}
	return false
}

// realCell records one run of a standard cell.
func realCell(x realpools.Cell) RealCell {
	kind, phase, _ := strings.Cut(x.Fault, "@")
	c := RealCell{Section: x.Section, Pool: x.Pool, Fault: kind, Phase: phase, Race: realRaceIn(x.Section, x.Pool, kind, faults.Phase(phase))}
	c.Reproduce = "go run ./cmd/poolhang run '" + x.Text() + "'"
	if errors.Is(x.Err, realpools.ErrNotApplicable) {
		c.Verdict = "n/a"
		c.NA = strings.TrimPrefix(x.Err.Error(), realpools.ErrNotApplicable.Error()+": ")
		return c
	}
	if x.Err != nil {
		c.Verdict = "error"
		c.NA = x.Err.Error()
		return c
	}
	o := x.Outcome
	c.outcome = &o
	c.Verdict = string(o.Verdict)
	if o.CallError != nil {
		c.Error = o.CallError.Class
		c.Kind = RealErrorKind(o.CallError, faults.Phase(phase))
	} else if e := firstJobError(o); e != nil {
		// The call styles that answer each job alone (callbacks, imap)
		// raise no one call: the first failed job's error stands for it.
		c.Error = e.Class
		c.Kind = RealErrorKind(e, faults.Phase(phase))
	}
	if o.GraceS > 0 && o.Verdict != realpools.NoAnswer && o.Took().Seconds() >= o.GraceS {
		c.Grace = fmt.Sprintf("answered only after the pool's own grace of %g s (%s)", o.GraceS, o.GraceWhy)
	}
	c.Evidence = RealEvidence(o, 2, false)
	if o.Verdict == realpools.NoAnswer {
		c.Graph = RealGraphsDir + "/" + strings.NewReplacer(":", "", ".", "-").Replace(x.Pool) + "_" + kind + "_" + phase + ".svg"
		if x.Section != "" {
			c.Graph = RealGraphsDir + "/" + x.Section + "_" + strings.TrimPrefix(c.Graph, RealGraphsDir+"/")
		}
	}
	if o.Verdict == realpools.ParentExited {
		c.Evidence = append(c.Evidence, fmt.Sprintf("the Python parent exited with code %d before the caller was answered", o.ExitCode))
	}
	return c
}

// realRace is why a real cell can differ from run to run, argued from the
// pool's source, or "" where it cannot.
// realRaceIn is realRace for a cell of a section: an ending style's
// bounded get gives up at the stall limit, scaled to the machine, so a
// pool that answers a death only after a grace of its own (billiard's
// LOST_WORKER_TIMEOUT) answers before it on one run and after it on
// another.
func realRaceIn(section, pool, kind string, phase faults.Phase) string {
	if k, err := faults.Lookup(kind); err == nil && pool == "py:billiard" && k.Effect == faults.Dies && WaitStyle(section).Ends() {
		return "billiard fails a dead worker's job with WorkerLostError only after LOST_WORKER_TIMEOUT (10 s): whether that comes before the caller's bounded get gives up (at the stall limit, scaled to the machine's fault-free run) decides between WorkerLostError and a job still unanswered when terminate() returns"
	}
	if pool == "py:loky" && section == "initializer" {
		return "loky starts each worker in a fresh interpreter (its loky context execs Python, which imports joblib's loky; 2.3 to 3.6 s to the answer in three runs here): " +
			"the executor breaks only once a worker has returned from _process_worker after its initializer failed, and on a loaded machine the stall limit can expire first " +
			"(a no-answer; the committed column saw one, those three runs saw TerminatedWorkerError)"
	}
	return realRace(pool, kind, phase)
}

func realRace(pool, kind string, phase faults.Phase) string {
	if pool != "py:pebble" {
		return ""
	}
	k, err := faults.Lookup(kind)
	if err != nil {
		return ""
	}
	switch {
	case phase == faults.IdleLockWaiter:
		return "pebble 5.0: an idle worker's death with no task running raises BrokenProcessPool(\"All workers expired\") inside the pool manager " +
			"(pebble/pool/process.py), which shows as RuntimeError: Unexpected error within the Pool, as no-answer, or as completed, depending on timing"
	case k.Effect == faults.ExitsClean || k.Effect == faults.Stops || k.Effect == faults.StopsThenContinues || k.Effect == faults.Interrupted:
		// No death pebble handles: it skips exit code 0 (inspect_workers),
		// a stopped worker never expires, and its workers ignore SIGINT.
		return ""
	case (k.Effect == faults.Dies || k.Effect == faults.ExitRequest || phase == faults.ResultEncode) &&
		(phase == faults.TaskRun || phase == faults.ResultEncode || phase == faults.ResultWrite):
		return "pebble 5.0: handle_worker_expiration fails the dead worker's task only if the pool manager has already handled that worker's ACK; " +
			"with the ACK still in the pipe, find_expired_task raises LookupError, which it swallows, and the task is lost (no-answer instead of ProcessExpired)"
	}
	return ""
}

// RealGraphsDir holds the observed wait-for graph of every no-answer
// real cell, in a results directory.
const RealGraphsDir = "real-graphs"

// WriteReal writes real.json and real-generated.json into dir, and the
// observed wait-for graph of every no-answer cell into real-graphs/ (the
// folder is emptied first).
func WriteReal(ctx context.Context, dir string, r RealMatrix, g RealGeneration) error {
	if err := writeRealGraphs(ctx, dir, r); err != nil {
		return err
	}
	js, err := r.JSON()
	if err != nil {
		return err
	}
	gs, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, RealJSON), js, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, RealGenerationJSON), append(gs, '\n'), 0o644)
}

func writeRealGraphs(ctx context.Context, dir string, r RealMatrix) error {
	graphs := map[string]*waitgraph.Graph{}
	for _, c := range r.Cells {
		if c.Graph == "" || c.outcome == nil {
			continue
		}
		if g := c.outcome.WaitGraph(false); g != nil {
			graphs[c.Graph] = g
		}
	}
	return drawGraphs(ctx, dir, RealGraphsDir, graphs)
}

// JSON is results/real.json.
func (r RealMatrix) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	return append(b, '\n'), err
}

// ReadRealMatrix reads results/real.json.
func ReadRealMatrix(rd io.Reader) (RealMatrix, error) {
	var r RealMatrix
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("%s: %w", RealJSON, err)
	}
	return r, nil
}

// ReadRealFile reads dir/real.json; a missing file is an empty matrix.
func ReadRealFile(dir string) (RealMatrix, error) {
	f, err := os.Open(filepath.Join(dir, RealJSON))
	if errors.Is(err, os.ErrNotExist) {
		return RealMatrix{}, nil
	}
	if err != nil {
		return RealMatrix{}, err
	}
	defer f.Close()
	return ReadRealMatrix(f)
}

// realAnchor is a real cell's anchor in matrix.md.
func realAnchor(c RealCell) string {
	a := strings.NewReplacer(":", "-", ".", "-", "@", "-").Replace(c.Pool + "-" + c.Fault + "-" + c.Phase)
	if c.Section != "" {
		a = c.Section + "-" + a
	}
	return a
}

// realMarkdown is matrix.md's part on the real pools: the agreement line
// per pair, the real cells' table, and per cell its evidence.
func (m Matrix) realMarkdown(b *strings.Builder) {
	r := m.real
	if r == nil {
		return
	}
	if len(r.Cells) == 0 {
		fmt.Fprintf(b, "\n## Real pools\n\nNo real cells recorded: run `%s` (it needs Python 3).\n", RealCommand)
		return
	}
	names := r.Pools()
	b.WriteString("\n## Real pools\n\n")
	fmt.Fprintf(b, "The same standard scenarios on the real Python pools, from `%s` (%s; each cell run %d times; "+
		"when, with which Python and library versions and how long each took: %s). A real pool's verdict is "+
		"observed, not proven: `no-answer` means the caller got nothing and nothing moved (no answer, no worker "+
		"event, no worker started, ended or ran) for 5 times the pool's own fault-free run and at least 2 s, plus "+
		"the pool's own grace (see the README's \"How long each real pool is waited for\"). naive: %s.\n\n",
		RealCommand, RealJSON, r.Runs, RealGenerationJSON, NoCounterpart(pools.Naive))
	if len(r.Missing) > 0 {
		fmt.Fprintf(b, "Not run here: %s.\n\n", strings.Join(r.Missing, "; "))
	}
	b.WriteString("Each model beside its real pool (a proven `hang` agrees with `no-answer`; `raised` agrees with " +
		"`raised` when the real error maps to one of the model's error kinds):\n\n")
	for _, p := range Pairs() {
		fmt.Fprintf(b, "- %s\n", Compare(m, *r, p).Line())
	}
	for _, n := range names {
		p, _ := realpools.Lookup(n)
		fmt.Fprintf(b, "\n### %s (%s)\n\n", n, p.What)
		for _, c := range r.Cells {
			if c.Pool != n {
				continue
			}
			if c.Verdict == "n/a" {
				fmt.Fprintf(b, "- %s`%s` @ `%s`: n/a: %s\n", sectionLabel(c.Section), c.Fault, c.Phase, c.NA)
				continue
			}
			fmt.Fprintf(b, "- <a id=\"%s\"></a>%s`%s` @ `%s`: **%s**%s\n", realAnchor(c), sectionLabel(c.Section), c.Fault, c.Phase, describeReal(c), seenMark(c))
			if c.Race != "" {
				fmt.Fprintf(b, "  - Can differ from run to run: %s.\n", c.Race)
			}
			if c.Grace != "" {
				fmt.Fprintf(b, "  - %s.\n", c.Grace)
			}
			for _, e := range c.Evidence {
				fmt.Fprintf(b, "  - %s\n", e)
			}
			if c.Graph != "" {
				fmt.Fprintf(b, "  - Observed wait-for graph: [%s](%s)\n", c.Graph, c.Graph)
			}
			fmt.Fprintf(b, "  - Reproduce: `%s`\n", c.Reproduce)
		}
	}
}

// seenMark is ", seen: 2 raised, 1 no-answer" for a cell that differed
// between runs.
func seenMark(c RealCell) string {
	if len(c.Seen) == 0 {
		return ""
	}
	var vs []string
	for v := range c.Seen {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	var parts []string
	for _, v := range vs {
		parts = append(parts, fmt.Sprintf("%d %s", c.Seen[v], v))
	}
	return " (differs from run to run: " + strings.Join(parts, ", ") + ")"
}

// sectionLabel is "section imap: " for a section's cell, "" for a
// standard one.
func sectionLabel(section string) string {
	if section == "" {
		return ""
	}
	return "section " + section + ": "
}
