package scenarios

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/waitgraph"
)

// MatrixCommand is the command that regenerates the committed matrix.
const MatrixCommand = "go run ./cmd/poolhang matrix"

// A Matrix is every cell's standard scenario, run: results/matrix.json.
// It holds only what every run shows, so regenerating it on an unchanged
// tree changes nothing; when, where and how long go to a Generation.
type Matrix struct {
	Command string       `json:"command"`
	Cells   []MatrixCell `json:"cells"`
	// Recovery is the recovery row (recovery.go).
	Recovery []RecoveryCell `json:"recovery,omitempty"`
	// seed is the seed's own hang, drawn as graphs/seed.svg.
	seed *waitgraph.Graph
	// real is the real pools' cells, shown beside the models in
	// matrix.md and matrix.svg; it lives in real.json.
	real *RealMatrix
}

// WithReal is m with the real pools' columns beside the models.
func (m Matrix) WithReal(r RealMatrix) Matrix {
	m.real = &r
	return m
}

// Real is the real pools' cells shown beside the models, if any.
func (m Matrix) Real() (RealMatrix, bool) {
	if m.real == nil {
		return RealMatrix{}, false
	}
	return *m.real, true
}

// SeedScenario is the seed's program: 2.6's Pool, a worker segfaults
// holding job 2, and the caller closes the pool and joins it, so that
// every worker ends <defunct> while the result handler reads on.
const SeedScenario = "pool=naive workers=2 jobs=6 wait=join fault=segfault@task-run:2"

// SeedGraph is where the seed's wait-for graph is written, in a results
// directory.
const SeedGraph = GraphsDir + "/seed.svg"

// MatrixCell is one cell's result, as results/matrix.json records it.
type MatrixCell struct {
	// Section is the matrix section ([Section]); absent for the standard.
	Section string `json:"section,omitempty"`
	Pool    string `json:"pool"`
	Fault   string `json:"fault"`
	Phase   string `json:"phase"`
	Verdict string `json:"verdict"`
	// Jobs is absent where how many jobs end ok is a race (CountsRace).
	Jobs   *JobCount `json:"jobs,omitempty"`
	Errors []string  `json:"errors"`
	Causes []Cause   `json:"causes"`
	// Diagnosis is the outcome's Summary: workers named by role.
	Diagnosis string `json:"diagnosis"`
	Reproduce string `json:"reproduce"`
	// Expected is the verdict argued from the mechanism, and Reason why.
	Expected string `json:"expected"`
	Reason   string `json:"reason"`
	// Graph is the hang's wait-for graph, relative to the results
	// directory (graphs/POOL_KIND_PHASE.svg); "" for an answer.
	Graph string `json:"graph,omitempty"`
	// wait is the graph to draw there.
	wait *waitgraph.Graph
}

// JobCount counts a cell's jobs by how they ended.
type JobCount struct {
	OK         int `json:"ok"`
	Error      int `json:"error"`
	Unresolved int `json:"unresolved"`
	// NotDelivered: jobs a failfast map that raised did not deliver
	// (cancelled, or running), as ProcessPoolExecutor.map does.
	NotDelivered int `json:"not_delivered,omitempty"`
}

// A Generation records when, where and how fast a matrix was generated:
// results/generated.json, the one file a regeneration always rewrites.
type Generation struct {
	Generated string       `json:"generated"`
	Go        string       `json:"go"`
	OS        string       `json:"os"`
	Machine   string       `json:"machine"`
	Command   string       `json:"command"`
	Timings   []CellTiming `json:"timings"`
}

// CellTiming is how long one cell took.
type CellTiming struct {
	Cell string `json:"cell"`
	// WallMS is the whole run; VerdictMS from the last progress of any
	// party to the verdict.
	WallMS    float64 `json:"wall_ms"`
	VerdictMS float64 `json:"verdict_ms"`
}

// Cell returns the matrix cell for c, if present.
func (m Matrix) Cell(c Cell) (MatrixCell, bool) {
	for _, x := range m.Cells {
		if x.Section == c.Section && x.Pool == string(c.Pool) && x.Fault == c.Kind && x.Phase == string(c.Phase) {
			return x, true
		}
	}
	return MatrixCell{}, false
}

// Cell is the cell x records.
func (x MatrixCell) Cell() Cell {
	return Cell{Pool: pools.Strategy(x.Pool), Kind: x.Fault, Phase: faults.Phase(x.Phase), Section: x.Section}
}

// NewMatrixCell records an outcome as a matrix cell.
func NewMatrixCell(c Cell, o Outcome) MatrixCell {
	mc := MatrixCell{
		Section: c.Section, Pool: string(c.Pool), Fault: c.Kind, Phase: string(c.Phase), Verdict: string(o.Verdict),
		Errors: o.ErrorKinds(), Causes: o.Causes, Diagnosis: o.Summary, Reproduce: o.Scenario.Command(),
	}
	if mc.Errors == nil {
		mc.Errors = []string{}
	}
	if c.Kind == "sigint" {
		// Under a Ctrl-C every worker of the group dies at once; whether
		// the proof sees the last of them gone is a race, so that cause
		// is left out of the record (Changes does not compare a Ctrl-C
		// cell's causes either).
		mc.Causes = slices.DeleteFunc(slices.Clone(mc.Causes), func(x Cause) bool { return x == CauseNoWorker })
	}
	if mc.Causes == nil {
		mc.Causes = []Cause{}
	}
	if !CountsRace(mc.Errors, mc.Causes) {
		ok, failed, unres := o.Count()
		cancelled, running := o.Undelivered()
		mc.Jobs = &JobCount{OK: ok, Error: failed, Unresolved: unres, NotDelivered: cancelled + running}
	}
	if e, err := Expect(c); err == nil {
		mc.Expected, mc.Reason = string(e.Verdict), e.Reason
	}
	if g := o.WaitGraph(false); g != nil {
		mc.wait = g
		mc.Graph = GraphsDir + "/" + strings.NewReplacer("/", "_", "@", "_", ":", "_").Replace(c.String()) + ".svg"
	}
	return mc
}

// Changes lists how fresh differs from x in what a reader cares about:
// the verdict, the expectation, the error kinds, the job counts where
// both record them, and the causes. Nil if nothing.
func (x MatrixCell) Changes(fresh MatrixCell) []string {
	var out []string
	diff := func(what, was, now string) {
		if was != now {
			out = append(out, fmt.Sprintf("%s %s, was %s", what, now, was))
		}
	}
	diff("verdict", x.Verdict, fresh.Verdict)
	diff("expected", x.Expected, fresh.Expected)
	diff("reason", strconv.Quote(x.Reason), strconv.Quote(fresh.Reason))
	diff("errors", fmt.Sprint(x.Errors), fmt.Sprint(fresh.Errors))
	// Under a Ctrl-C every worker of the group dies at once; whether the
	// proof sees the last of them gone (no-worker-left) beside the lost
	// job is a race, so those causes are not compared.
	if x.Fault != "sigint" {
		diff("causes", fmt.Sprint(x.Causes), fmt.Sprint(fresh.Causes))
	}
	if x.Jobs != nil && fresh.Jobs != nil {
		diff("jobs", fmt.Sprint(*x.Jobs), fmt.Sprint(*fresh.Jobs))
	}
	return out
}

// Diff lists, cell by cell, how fresh differs from m; each line names
// its cell.
func (m Matrix) Diff(fresh Matrix) []string {
	var out []string
	for _, x := range m.Cells {
		y, ok := fresh.Cell(x.Cell())
		if !ok {
			out = append(out, x.Cell().String()+": gone")
			continue
		}
		for _, ch := range x.Changes(y) {
			out = append(out, x.Cell().String()+": "+ch)
		}
	}
	for _, y := range fresh.Cells {
		if _, ok := m.Cell(y.Cell()); !ok {
			out = append(out, y.Cell().String()+": new")
		}
	}
	return out
}

// RunMatrix runs every cell's standard scenario once, in catalog order,
// calling progress after each.
func RunMatrix(ctx context.Context, progress func(i, n int, mc MatrixCell, t CellTiming)) (Matrix, Generation, error) {
	m := Matrix{Command: MatrixCommand}
	g := Generation{
		Generated: time.Now().UTC().Format(time.RFC3339),
		Go:        runtime.Version(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
		Machine:   machine(),
		Command:   MatrixCommand,
	}
	cells := Cells()
	m.Cells = make([]MatrixCell, len(cells))
	g.Timings = make([]CellTiming, len(cells))
	errs := make([]error, len(cells))
	var mu sync.Mutex
	done := 0
	runEach(len(cells), matrixParallel, func(i int) {
		c := cells[i]
		o, err := Run(ctx, c.Scenario())
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("%s: %w", c, err)
			return
		case len(o.Leftovers) > 0:
			errs[i] = fmt.Errorf("%s: teardown left %v", c, o.Leftovers)
			return
		}
		m.Cells[i] = NewMatrixCell(c, o)
		g.Timings[i] = CellTiming{Cell: c.String(), WallMS: ms(o.Wall), VerdictMS: ms(o.ToVerdict)}
		if progress != nil {
			mu.Lock()
			done++
			progress(done, len(cells), m.Cells[i], g.Timings[i])
			mu.Unlock()
		}
	})
	if err := errors.Join(errs...); err != nil {
		return m, g, err
	}
	var err error
	if m.Recovery, err = RunRecovery(ctx); err != nil {
		return m, g, err
	}
	sc, err := Parse(SeedScenario)
	if err != nil {
		return m, g, err
	}
	o, err := Run(ctx, sc)
	if err != nil {
		return m, g, fmt.Errorf("the seed's scenario: %w", err)
	}
	if m.seed = o.WaitGraph(false); m.seed == nil {
		return m, g, fmt.Errorf("the seed's scenario ended %s, not in a hang: %s", o.Verdict, o.Diagnosis)
	}
	return m, g, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// matrixParallel is how many cells run at once: a cell's verdict is
// proven from recorded state, whatever the load (TestVerdictsAreRepeatable),
// and most of a cell's time is a wait (tracked's 500 ms deadlines,
// billiard's 100 ms grace). Six at once on 2 cores: 491 cells in 4.2 s
// (4 at once: 5.2 s), with the files byte for byte the same.
const matrixParallel = 6

// runEach calls f(0) to f(n-1), at most parallel at once.
func runEach(n, parallel int, f func(i int)) {
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

// Files are the files a matrix is written to, in a results directory.
const (
	MatrixJSON     = "matrix.json"
	MatrixMarkdown = "matrix.md"
	MatrixSVG      = "matrix.svg"
	GenerationJSON = "generated.json"
	// GraphsDir holds one wait-for graph per hang cell.
	GraphsDir = "graphs"
)

// Write writes m and g into dir: matrix.json, matrix.md, matrix.svg,
// generated.json, and graphs/ with one wait-for graph per hang cell of
// this run (the folder is emptied first, so no picture outlives its
// cell).
func Write(ctx context.Context, dir string, m Matrix, g Generation) error {
	js, err := m.JSON()
	if err != nil {
		return err
	}
	gs, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	svg, err := m.Picture().SVG()
	if err != nil {
		return err
	}
	files := map[string][]byte{MatrixJSON: js, MatrixMarkdown: []byte(m.Markdown()), MatrixSVG: svg, GenerationJSON: append(gs, '\n')}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return writeGraphs(ctx, dir, m)
}

func writeGraphs(ctx context.Context, dir string, m Matrix) error {
	graphs := map[string]*waitgraph.Graph{}
	for _, c := range m.Cells {
		if c.wait != nil {
			graphs[c.Graph] = c.wait
		}
	}
	if m.seed != nil {
		graphs[SeedGraph] = m.seed
	}
	return drawGraphs(ctx, dir, GraphsDir, graphs)
}

// drawGraphs writes each graph as SVG under dir (names relative to dir,
// in folder sub), and removes any other picture from sub.
//
// A picture is redrawn only when its facts change. Which job a surviving
// worker held, or whether it was back at the task pipe, when a hang was
// proven is the workers' race: the picture of one run is as true as
// another's, so regenerating keeps the one on disk unless what every run
// shows differs (graphFacts). The facts are kept in the SVG as a comment.
func drawGraphs(ctx context.Context, dir, sub string, graphs map[string]*waitgraph.Graph) error {
	gdir := filepath.Join(dir, sub)
	if err := os.MkdirAll(gdir, 0o755); err != nil {
		return err
	}
	olds, err := filepath.Glob(filepath.Join(gdir, "*.svg"))
	if err != nil {
		return err
	}
	for _, f := range olds {
		rel, _ := filepath.Rel(dir, f)
		if graphs[rel] == nil {
			os.Remove(f)
		}
	}
	var dots []string
	facts := map[string]string{}
	for name, g := range graphs {
		f := filepath.Join(dir, name)
		facts[f] = graphFacts(g)
		if old, err := os.ReadFile(f); err == nil && bytes.Contains(old, []byte(factsComment(facts[f]))) {
			continue
		}
		dot, err := g.DOT()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		d := strings.TrimSuffix(f, ".svg") + ".dot"
		if err := os.WriteFile(d, dot, 0o644); err != nil {
			return err
		}
		dots = append(dots, d)
	}
	sort.Strings(dots)
	err = waitgraph.Draw(ctx, dots)
	for _, d := range dots {
		os.Remove(d)
	}
	if err != nil {
		return err
	}
	for _, d := range dots {
		f := strings.TrimSuffix(d, ".dot") + ".svg"
		svg, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
			svg = append(append(svg[:i:i], []byte(factsComment(facts[f])+"\n")...), svg[i:]...)
		}
		if err := os.WriteFile(f, svg, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// graphFacts is what every run of a hang shows, as a digest: the title,
// the lost jobs, and every party but the live workers, with its state and
// what it does. Live workers, the waits and the layout are left out: they
// race.
func graphFacts(g *waitgraph.Graph) string {
	lines := []string{g.Title, g.Caption}
	for _, n := range g.Nodes {
		if n.Kind == waitgraph.Worker && !n.State.Dead() {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s|%s|%s|%s|%v", n.ID, n.State, n.Doing, n.Job, n.Irreplaceable))
	}
	sort.Strings(lines[2:])
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:8])
}

func factsComment(facts string) string {
	return "<!-- poolhang facts " + facts + ": the picture is redrawn only when these change -->"
}

// Picture is the matrix at a glance: a column per pool, a row per fault
// and phase, each cell linking to its details in matrix.md and, for a
// hang, to its wait-for graph.
func (m Matrix) Picture() *waitgraph.Matrix {
	p := &waitgraph.Matrix{Title: "poolhang: what each pool does when a worker dies"}
	strategies := pools.Strategies()
	for _, s := range strategies {
		p.Columns = append(p.Columns, waitgraph.Column{Name: string(s), Group: "models"})
	}
	var real []string
	if m.real != nil {
		real = m.real.Pools()
	}
	for _, n := range real {
		p.Columns = append(p.Columns, waitgraph.Column{Name: n, Group: "real pools"})
	}
	for _, k := range faults.Kinds() {
		for _, ph := range k.Meaningful() {
			row := waitgraph.Row{Label: k.Name + " @ " + string(ph)}
			for _, s := range strategies {
				cell := waitgraph.Cell{Verdict: waitgraph.NotApplic, Tooltip: "the fault cannot strike there in this pool"}
				if mc, ok := m.Cell(Cell{Pool: s, Kind: k.Name, Phase: ph}); ok {
					cell = waitgraph.Cell{Verdict: waitgraph.Verdict(mc.Verdict), Details: MatrixMarkdown + "#" + anchor(mc),
						Picture: mc.Graph, Tooltip: mc.Reason}
				}
				if why := NoCounterpart(s); len(real) > 0 && s == pools.Naive {
					cell.Tooltip += " (naive: " + why + ")"
				}
				row.Cells = append(row.Cells, cell)
			}
			for _, n := range real {
				cell := waitgraph.Cell{Verdict: waitgraph.NotApplic, Tooltip: "not run"}
				if rc, ok := m.real.Cell(n, k.Name, ph); ok {
					cell = waitgraph.Cell{Verdict: waitgraph.Verdict(rc.Verdict), Tooltip: rc.NA}
					if rc.Verdict != "n/a" {
						cell.Details, cell.Picture, cell.Tooltip = MatrixMarkdown+"#"+realAnchor(rc), rc.Graph, describeReal(rc)+seenMark(rc)
					}
				}
				row.Cells = append(row.Cells, cell)
			}
			p.Rows = append(p.Rows, row)
		}
	}
	return p
}

// anchor is a cell's anchor in matrix.md.
func anchor(mc MatrixCell) string {
	a := strings.NewReplacer("/", "-", "@", "-").Replace(mc.Pool + "-" + mc.Fault + "-" + mc.Phase)
	if mc.Section != "" {
		a = mc.Section + "-" + a
	}
	return a
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs", model, runtime.NumCPU())
}

// ReadMatrix reads results/matrix.json.
func ReadMatrix(r io.Reader) (Matrix, error) {
	var m Matrix
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("matrix.json: %w", err)
	}
	return m, nil
}

// JSON is results/matrix.json.
func (m Matrix) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	return append(b, '\n'), err
}

var symbols = map[string]string{
	string(Completed):     "✅",
	string(Raised):        "⚠️",
	string(Hang):          "⛔",
	string(HangTimeout):   "⏳",
	string(Livelock):      "🔁",
	"no-answer":           "⌛",
	string(Orphans):       "👻",
	string(WorkersExited): "🏁",
}

func symbol(v string) string {
	if s, ok := symbols[v]; ok {
		return s
	}
	return "?"
}

// Markdown is results/matrix.md: the table, the legend, and per cell the
// verdict, the reason from the mechanism, the diagnosis and the command
// that reproduces it.
func (m Matrix) Markdown() string {
	var b strings.Builder
	var real []string
	if m.real != nil {
		real = m.real.Pools()
	}
	m.mdHeader(&b, real)
	m.mdTable(&b, real)
	b.WriteString("\nReproduce any cell with the command under it; `go test ./...` checks every cell against its\n" +
		"expectation and against this file.\n")
	for _, s := range pools.Strategies() {
		m.mdPool(&b, s)
	}
	for _, s := range Sections() {
		m.mdSection(&b, s)
	}
	recoveryMarkdown(&b, m.Recovery)
	m.realMarkdown(&b)
	return b.String()
}

// mdHeader is the title, the picture, the shape of a cell, the legend and
// the versions each pool follows.
func (m Matrix) mdHeader(b *strings.Builder, real []string) {
	fmt.Fprintf(b, "# poolhang result matrix\n\n")
	fmt.Fprintf(b, "Generated by `%s`; when, where and how long each cell took are in %s.\n\n", m.Command, GenerationJSON)
	fmt.Fprintf(b, "[![The matrix at a glance: every cell coloured by its verdict](%s)](%s)\n\n", MatrixSVG, MatrixSVG)
	b.WriteString("Open the picture itself to follow its links: each cell leads to its details below and each hang to its\n" +
		"wait-for graph; in this table, each hang's verdict links to its graph.\n\n")
	b.WriteString("Every cell is one standard scenario run on real processes, shaped like CPython's own deadlock\n" +
		"tests: 2 worker processes, 6 jobs (`square(i)`) submitted as one map, the fault aimed at job 2; for the\n" +
		"idle phases, the fault strikes an idle worker before the map is submitted. A hang is proven from the\n" +
		"pool's state (every party the caller waits for is blocked on something only a dead or blocked party\n" +
		"could release), never from a timeout.\n\n")
	fmt.Fprintf(b, "The billiard model runs with a %s lost-worker grace (pools.Options.LostWorkerTimeout; billiard's own\n"+
		"LOST_WORKER_TIMEOUT is 10 s, which the real column waits out): its worker-lost cells are answered that long\n"+
		"after the death (`poolhang run` prints the time; generated.json has each cell's). Where workers retire (maxtasks=, the maxtasks\n"+
		"section), a retirement marks a map lost too, and it runs with %s (RetireGrace), so that the jobs left are answered well before that passes.\n\n", ModelGrace, RetireGrace)
	b.WriteString("Legend: ✅ completed (every job has its correct value) · ⚠️ raised (every job answered, some with errors) · " +
		"⛔ hang (proven: the caller can never be answered) · 🔁 livelock (proven: workers start and die again and again, and no job can progress) · ⏳ hang-timeout (backstop; never expected) · " +
		"n/a the fault cannot strike there in that pool.\n\n")
	strategies := pools.Strategies()
	b.WriteString("Each pool follows one version's source where versions differ (see the README's \"Which CPython\n" +
		"version each model follows\"):")
	for i, s := range strategies {
		sep := ";"
		if i == len(strategies)-1 {
			sep = "."
		}
		fmt.Fprintf(b, " %s: %s%s", s, s.Follows(), sep)
	}
	if len(real) > 0 {
		b.WriteString(" The real pools' columns (py:...) are observed on the real Python pools; see \"Real pools\" below. " +
			"naive: " + NoCounterpart(pools.Naive) + ".")
	}
	b.WriteString("\n\n")
}

// mdTable is the table: a row per fault and phase, a column per model and
// per real pool.
func (m Matrix) mdTable(b *strings.Builder, real []string) {
	strategies := pools.Strategies()
	b.WriteString("| fault @ phase |")
	for _, s := range strategies {
		fmt.Fprintf(b, " %s (%s) |", s, strings.TrimPrefix(s.Follows(), "CPython "))
	}
	for _, n := range real {
		fmt.Fprintf(b, " %s (real) |", n)
	}
	b.WriteString("\n|---|")
	for range len(strategies) + len(real) {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, k := range faults.Kinds() {
		for _, ph := range k.Meaningful() {
			fmt.Fprintf(b, "| `%s` @ `%s` |", k.Name, ph)
			for _, s := range strategies {
				mc, ok := m.Cell(Cell{Pool: s, Kind: k.Name, Phase: ph})
				switch {
				case !ok:
					b.WriteString(" n/a |")
				case mc.Expected != "" && mc.Expected != mc.Verdict:
					fmt.Fprintf(b, " %s %s **UNEXPECTED** |", symbol(mc.Verdict), verdictLink(mc))
				default:
					fmt.Fprintf(b, " %s %s |", symbol(mc.Verdict), verdictLink(mc))
				}
			}
			for _, n := range real {
				rc, ok := m.real.Cell(n, k.Name, ph)
				switch {
				case !ok:
					b.WriteString(" |")
				case rc.Verdict == "n/a":
					b.WriteString(" n/a |")
				default:
					fmt.Fprintf(b, " %s [%s](#%s)%s |", symbol(rc.Verdict), describeReal(rc), realAnchor(rc), seenMark(rc))
				}
			}
			b.WriteString("\n")
		}
	}
}

// mdPool lists one model's cells: the verdict, why (the mechanism), what
// was seen, the causes, the graph and the command that reproduces it.
func (m Matrix) mdPool(b *strings.Builder, s pools.Strategy) {
	fmt.Fprintf(b, "\n## %s (%s)\n\n", s, s.Follows())
	for _, k := range faults.Kinds() {
		for _, ph := range k.Meaningful() {
			mc, ok := m.Cell(Cell{Pool: s, Kind: k.Name, Phase: ph})
			if !ok {
				if err := k.Check(s, ph, 2); err != nil {
					fmt.Fprintf(b, "- `%s` @ `%s`: n/a: %s\n", k.Name, ph, strings.TrimPrefix(err.Error(), faults.ErrImpossible.Error()+": "))
				}
				continue
			}
			mdCell(b, "", mc)
		}
	}
}

// mdCell lists one cell; label, if not empty, comes first (a section's
// cells name their pool).
func mdCell(b *strings.Builder, label string, mc MatrixCell) {
	fmt.Fprintf(b, "- <a id=\"%s\"></a>%s %s`%s` @ `%s`: **%s**", anchor(mc), symbol(mc.Verdict), label, mc.Fault, mc.Phase, mc.Verdict)
	if len(mc.Errors) > 0 {
		fmt.Fprintf(b, " (%s)", strings.Join(mc.Errors, ", "))
	}
	if mc.Jobs != nil {
		fmt.Fprintf(b, "; jobs %d ok, %d error, %d unresolved", mc.Jobs.OK, mc.Jobs.Error, mc.Jobs.Unresolved)
		if mc.Jobs.NotDelivered > 0 {
			fmt.Fprintf(b, ", %d not delivered (the map raised first)", mc.Jobs.NotDelivered)
		}
		b.WriteString(".\n")
	} else {
		b.WriteString("; how many jobs end ok is a race.\n")
	}
	if mc.Reason != "" {
		fmt.Fprintf(b, "  - Why: %s.\n", mc.Reason)
	}
	fmt.Fprintf(b, "  - Seen: %s\n", mc.Diagnosis)
	if len(mc.Causes) > 0 {
		fmt.Fprintf(b, "  - Causes: %s\n", joinCauses(mc.Causes))
	}
	if mc.Graph != "" {
		fmt.Fprintf(b, "  - Wait-for graph: [%s](%s)\n", mc.Graph, mc.Graph)
	}
	fmt.Fprintf(b, "  - Reproduce: `%s`\n", mc.Reproduce)
}

// verdictLink is a cell's verdict, linked to its wait-for graph if it
// has one.
func verdictLink(mc MatrixCell) string {
	if mc.Graph == "" {
		return mc.Verdict
	}
	return "[" + mc.Verdict + "](" + mc.Graph + ")"
}

func joinCauses(cs []Cause) string {
	var b []string
	for _, c := range cs {
		b = append(b, "`"+string(c)+"`")
	}
	return strings.Join(b, ", ")
}

// mdSection is one call style's or option's section: what the call is,
// its table (a row per fault, a column per model), then each cell.
func (m Matrix) mdSection(b *strings.Builder, s Section) {
	fmt.Fprintf(b, "\n## Section: %s\n\n%s\n\nReproduce: `%s`\n\n", s.Title, s.Doc, MatrixCommand)
	strategies := pools.Strategies()
	var real []string
	if m.real != nil {
		real = m.real.Pools()
	}
	b.WriteString("| fault @ phase |")
	for _, p := range strategies {
		fmt.Fprintf(b, " %s |", p)
	}
	for _, n := range real {
		fmt.Fprintf(b, " %s (real) |", n)
	}
	b.WriteString("\n|---|")
	for range len(strategies) + len(real) {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range s.Rows {
		fmt.Fprintf(b, "| `%s` @ `%s` |", r.Kind, r.Phase)
		for _, p := range strategies {
			mc, ok := m.Cell(Cell{Pool: p, Kind: r.Kind, Phase: r.Phase, Section: s.Name})
			switch {
			case !ok:
				b.WriteString(" n/a |")
			case mc.Expected != "" && mc.Expected != mc.Verdict:
				fmt.Fprintf(b, " %s [%s](#%s) **UNEXPECTED** |", symbol(mc.Verdict), mc.Verdict, anchor(mc))
			default:
				fmt.Fprintf(b, " %s [%s](#%s) |", symbol(mc.Verdict), mc.Verdict, anchor(mc))
			}
		}
		for _, n := range real {
			rc, ok := m.real.CellIn(s.Name, n, r.Kind, r.Phase)
			switch {
			case s.notApplicable(pools.Strategy(n)) != "" || ok && rc.Verdict == "n/a":
				b.WriteString(" n/a |")
			case !ok:
				b.WriteString(" not run |")
			default:
				fmt.Fprintf(b, " %s [%s](#%s)%s |", symbol(rc.Verdict), describeReal(rc), realAnchor(rc), seenMark(rc))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, n := range real {
		if why := s.notApplicable(pools.Strategy(n)); why != "" {
			fmt.Fprintf(b, "- %s (real): n/a: %s\n", n, why)
		}
	}
	for _, p := range strategies {
		if why := s.notApplicable(p); why != "" {
			fmt.Fprintf(b, "- %s: n/a: %s\n", p, why)
			continue
		}
		for _, r := range s.Rows {
			mc, ok := m.Cell(Cell{Pool: p, Kind: r.Kind, Phase: r.Phase, Section: s.Name})
			if !ok {
				if k, err := faults.Lookup(r.Kind); err == nil {
					if err := k.Check(p, r.Phase, 2); err != nil {
						fmt.Fprintf(b, "- %s `%s` @ `%s`: n/a: %s\n", p, r.Kind, r.Phase, strings.TrimPrefix(err.Error(), faults.ErrImpossible.Error()+": "))
					}
				}
				continue
			}
			mdCell(b, string(p)+": ", mc)
		}
	}
}
