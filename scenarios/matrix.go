package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// MatrixCommand is the command that regenerates the committed matrix.
const MatrixCommand = "go run ./cmd/poolhang matrix"

// A Matrix is every cell's standard scenario, run: results/matrix.json.
// It holds only what every run shows, so regenerating it on an unchanged
// tree changes nothing; when, where and how long go to a Generation.
type Matrix struct {
	Command string       `json:"command"`
	Cells   []MatrixCell `json:"cells"`
}

// MatrixCell is one cell's result, as results/matrix.json records it.
type MatrixCell struct {
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
}

// JobCount counts a cell's jobs by how they ended.
type JobCount struct {
	OK         int `json:"ok"`
	Error      int `json:"error"`
	Unresolved int `json:"unresolved"`
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
		if x.Pool == string(c.Pool) && x.Fault == c.Kind && x.Phase == string(c.Phase) {
			return x, true
		}
	}
	return MatrixCell{}, false
}

// Cell is the cell x records.
func (x MatrixCell) Cell() Cell {
	return Cell{Pool: pools.Strategy(x.Pool), Kind: x.Fault, Phase: faults.Phase(x.Phase)}
}

// NewMatrixCell records an outcome as a matrix cell.
func NewMatrixCell(c Cell, o Outcome) MatrixCell {
	mc := MatrixCell{
		Pool: string(c.Pool), Fault: c.Kind, Phase: string(c.Phase), Verdict: string(o.Verdict),
		Errors: o.ErrorKinds(), Causes: o.Causes, Diagnosis: o.Summary, Reproduce: o.Scenario.Command(),
	}
	if mc.Errors == nil {
		mc.Errors = []string{}
	}
	if mc.Causes == nil {
		mc.Causes = []Cause{}
	}
	if !CountsRace(mc.Errors, mc.Causes) {
		ok, failed, unres := o.Count()
		mc.Jobs = &JobCount{ok, failed, unres}
	}
	if e, err := Expect(c); err == nil {
		mc.Expected, mc.Reason = string(e.Verdict), e.Reason
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
	diff("causes", fmt.Sprint(x.Causes), fmt.Sprint(fresh.Causes))
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
	for i, c := range cells {
		o, err := Run(ctx, Standard(c.Pool, c.Kind, c.Phase))
		if err != nil {
			return m, g, fmt.Errorf("%s: %w", c, err)
		}
		if len(o.Leftovers) > 0 {
			return m, g, fmt.Errorf("%s: teardown left %v", c, o.Leftovers)
		}
		mc := NewMatrixCell(c, o)
		t := CellTiming{Cell: c.String(), WallMS: ms(o.Wall), VerdictMS: ms(o.ToVerdict)}
		m.Cells = append(m.Cells, mc)
		g.Timings = append(g.Timings, t)
		if progress != nil {
			progress(i+1, len(cells), mc, t)
		}
	}
	return m, g, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Files are the files a matrix is written to, in a results directory.
const (
	MatrixJSON     = "matrix.json"
	MatrixMarkdown = "matrix.md"
	GenerationJSON = "generated.json"
)

// Write writes m and g into dir: matrix.json, matrix.md and
// generated.json.
func Write(dir string, m Matrix, g Generation) error {
	js, err := m.JSON()
	if err != nil {
		return err
	}
	gs, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{MatrixJSON: js, MatrixMarkdown: []byte(m.Markdown()), GenerationJSON: append(gs, '\n')} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
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
	string(Completed):   "✅",
	string(Raised):      "⚠️",
	string(Hang):        "⛔",
	string(HangTimeout): "⏳",
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
	fmt.Fprintf(&b, "# poolhang result matrix\n\n")
	fmt.Fprintf(&b, "Generated by `%s`; when, where and how long each cell took are in %s.\n\n", m.Command, GenerationJSON)
	b.WriteString("Every cell is one standard scenario run on real processes, shaped like CPython's own deadlock\n" +
		"tests: 2 worker processes, 6 jobs (`square(i)`) submitted as one map, the fault aimed at job 2; for the\n" +
		"idle phases, the fault strikes an idle worker before the map is submitted. A hang is proven from the\n" +
		"pool's state (every party the caller waits for is blocked on something only a dead or blocked party\n" +
		"could release), never from a timeout.\n\n")
	b.WriteString("Legend: ✅ completed (every job has its correct value) · ⚠️ raised (every job answered, some with errors) · " +
		"⛔ hang (proven: the caller can never be answered) · ⏳ hang-timeout (backstop; never expected) · " +
		"n/a the fault cannot strike there in that pool.\n\n")
	strategies := pools.Strategies()
	b.WriteString("Each pool follows one version's source where versions differ (see the README's \"Which CPython\n" +
		"version each model follows\"):")
	for i, s := range strategies {
		sep := ";"
		if i == len(strategies)-1 {
			sep = "."
		}
		fmt.Fprintf(&b, " %s: %s%s", s, s.Follows(), sep)
	}
	b.WriteString("\n\n| fault @ phase |")
	for _, s := range strategies {
		fmt.Fprintf(&b, " %s (%s) |", s, strings.TrimPrefix(s.Follows(), "CPython "))
	}
	b.WriteString("\n|---|")
	for range strategies {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, k := range faults.Kinds() {
		for _, ph := range k.Meaningful() {
			fmt.Fprintf(&b, "| `%s` @ `%s` |", k.Name, ph)
			for _, s := range strategies {
				mc, ok := m.Cell(Cell{s, k.Name, ph})
				switch {
				case !ok:
					b.WriteString(" n/a |")
				case mc.Expected != "" && mc.Expected != mc.Verdict:
					fmt.Fprintf(&b, " %s %s **UNEXPECTED** |", symbol(mc.Verdict), mc.Verdict)
				default:
					fmt.Fprintf(&b, " %s %s |", symbol(mc.Verdict), mc.Verdict)
				}
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\nReproduce any cell with the command under it; `go test ./...` checks every cell against its\n" +
		"expectation and against this file.\n")
	for _, s := range strategies {
		fmt.Fprintf(&b, "\n## %s (%s)\n\n", s, s.Follows())
		for _, k := range faults.Kinds() {
			for _, ph := range k.Meaningful() {
				mc, ok := m.Cell(Cell{s, k.Name, ph})
				if !ok {
					if err := k.Check(s, ph, 2); err != nil {
						fmt.Fprintf(&b, "- `%s` @ `%s`: n/a: %s\n", k.Name, ph, strings.TrimPrefix(err.Error(), faults.ErrImpossible.Error()+": "))
					}
					continue
				}
				fmt.Fprintf(&b, "- %s `%s` @ `%s`: **%s**", symbol(mc.Verdict), k.Name, ph, mc.Verdict)
				if len(mc.Errors) > 0 {
					fmt.Fprintf(&b, " (%s)", strings.Join(mc.Errors, ", "))
				}
				if mc.Jobs != nil {
					fmt.Fprintf(&b, "; jobs %d ok, %d error, %d unresolved.\n", mc.Jobs.OK, mc.Jobs.Error, mc.Jobs.Unresolved)
				} else {
					b.WriteString("; how many jobs end ok is a race.\n")
				}
				if mc.Reason != "" {
					fmt.Fprintf(&b, "  - Why: %s.\n", mc.Reason)
				}
				fmt.Fprintf(&b, "  - Seen: %s\n", mc.Diagnosis)
				if len(mc.Causes) > 0 {
					fmt.Fprintf(&b, "  - Causes: %s\n", joinCauses(mc.Causes))
				}
				fmt.Fprintf(&b, "  - Reproduce: `%s`\n", mc.Reproduce)
			}
		}
	}
	return b.String()
}

func joinCauses(cs []Cause) string {
	var b []string
	for _, c := range cs {
		b = append(b, "`"+string(c)+"`")
	}
	return strings.Join(b, ", ")
}
