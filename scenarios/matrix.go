package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// MatrixCommand is the command that regenerates the committed matrix.
const MatrixCommand = "go run ./cmd/poolhang matrix"

// A Matrix is every cell's standard scenario, run.
type Matrix struct {
	Generated string       `json:"generated"`
	Go        string       `json:"go"`
	OS        string       `json:"os"`
	Machine   string       `json:"machine"`
	Command   string       `json:"command"`
	Cells     []MatrixCell `json:"cells"`
}

// MatrixCell is one cell's result, as results/matrix.json records it.
type MatrixCell struct {
	Pool      string   `json:"pool"`
	Fault     string   `json:"fault"`
	Phase     string   `json:"phase"`
	Verdict   string   `json:"verdict"`
	Jobs      JobCount `json:"jobs"`
	Errors    []string `json:"errors"`
	Diagnosis string   `json:"diagnosis"`
	Reproduce string   `json:"reproduce"`
	WallMS    float64  `json:"wall_ms"`
	VerdictMS float64  `json:"verdict_ms"`
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

// Cell returns the matrix cell for c, if present.
func (m Matrix) Cell(c Cell) (MatrixCell, bool) {
	for _, x := range m.Cells {
		if x.Pool == string(c.Pool) && x.Fault == c.Kind && x.Phase == string(c.Phase) {
			return x, true
		}
	}
	return MatrixCell{}, false
}

// NewMatrixCell records an outcome as a matrix cell.
func NewMatrixCell(c Cell, o Outcome) MatrixCell {
	ok, failed, unres := o.Count()
	mc := MatrixCell{
		Pool: string(c.Pool), Fault: c.Kind, Phase: string(c.Phase), Verdict: string(o.Verdict),
		Jobs: JobCount{ok, failed, unres}, Errors: o.ErrorKinds(), Diagnosis: o.Diagnosis,
		Reproduce: o.Scenario.Command(),
		WallMS:    float64(o.Wall.Microseconds()) / 1000, VerdictMS: float64(o.ToVerdict.Microseconds()) / 1000,
	}
	if mc.Errors == nil {
		mc.Errors = []string{}
	}
	if e, err := Expect(c); err == nil {
		mc.Expected, mc.Reason = string(e.Verdict), e.Reason
	}
	return mc
}

// RunMatrix runs every cell's standard scenario once, in catalog order,
// calling progress after each.
func RunMatrix(ctx context.Context, progress func(i, n int, mc MatrixCell)) (Matrix, error) {
	m := Matrix{
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
			return m, fmt.Errorf("%s: %w", c, err)
		}
		if len(o.Leftovers) > 0 {
			return m, fmt.Errorf("%s: teardown left %v", c, o.Leftovers)
		}
		mc := NewMatrixCell(c, o)
		m.Cells = append(m.Cells, mc)
		if progress != nil {
			progress(i+1, len(cells), mc)
		}
	}
	return m, nil
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
	fmt.Fprintf(&b, "Generated %s by `%s` on %s (%s), %s.\n\n", m.Generated, m.Command, m.Machine, m.OS, m.Go)
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
				fmt.Fprintf(&b, "; jobs %d ok, %d error, %d unresolved.\n", mc.Jobs.OK, mc.Jobs.Error, mc.Jobs.Unresolved)
				if mc.Reason != "" {
					fmt.Fprintf(&b, "  - Why: %s.\n", mc.Reason)
				}
				fmt.Fprintf(&b, "  - Seen: %s\n", mc.Diagnosis)
				fmt.Fprintf(&b, "  - Reproduce: `%s`\n", mc.Reproduce)
			}
		}
	}
	return b.String()
}
