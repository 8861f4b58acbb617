package waitgraph

import (
	"bytes"
	"fmt"
	"strings"
)

// A Verdict is the word a matrix cell shows.
type Verdict string

const (
	Completed   Verdict = "completed"     // every job answered with its value
	Raised      Verdict = "raised"        // every job answered, some with errors
	Hang        Verdict = "hang"          // proven: the caller can never be answered
	HangTimeout Verdict = "hang-timeout"  // the backstop expired without a proof
	NoAnswer    Verdict = "no-answer"     // a real pool gave no answer; observed, not proven
	ParentExit  Verdict = "parent-exited" // a real pool ended its own parent before answering
	WrongValue  Verdict = "wrong-value"   // a real pool answered a wrong value without an error
	NotApplic   Verdict = "n/a"           // the fault cannot strike there
	// The parent-killed fault's two ends: its caller dies with the
	// parent, so the cell tells the workers' fate.
	Orphans       Verdict = "orphans"        // some worker outlived its killed parent for good
	WorkersExited Verdict = "workers-exited" // every worker ended once its parent was killed
)

// Verdicts lists every verdict in legend order.
var Verdicts = []Verdict{Completed, Raised, Hang, HangTimeout, NoAnswer, ParentExit, WrongValue, Orphans, WorkersExited, NotApplic}

var verdictMeaning = map[Verdict]string{
	Completed:     "every job answered",
	Raised:        "answered, some with errors",
	Hang:          "proven hang",
	HangTimeout:   "backstop, no proof",
	NoAnswer:      "real pool, no answer",
	ParentExit:    "real pool ended its parent",
	WrongValue:    "real pool, wrong value",
	NotApplic:     "cannot strike there",
	Orphans:       "workers outlived the killed parent",
	WorkersExited: "workers ended with the parent",
}

// verdictColor is a cell's fill and text colour; the word is always
// written too, so colour is never the only cue.
var verdictColor = map[Verdict][2]string{
	Completed:     {"#c6efce", "#14532d"},
	Raised:        {"#ffeb9c", "#713f12"},
	Hang:          {"#f87171", "#450a0a"},
	HangTimeout:   {"#d8b4fe", "#3b0764"},
	NoAnswer:      {"#fdba74", "#431407"},
	ParentExit:    {"#f9a8d4", "#500724"},
	WrongValue:    {"#fca5a5", "#7f1d1d"},
	NotApplic:     {"#e5e7eb", "#374151"},
	Orphans:       {"#a5b4fc", "#1e1b4b"},
	WorkersExited: {"#99f6e4", "#134e4a"},
}

// A Matrix is the matrix at a glance: one row per fault and phase, one
// column per pool.
type Matrix struct {
	Title   string
	Columns []Column
	Rows    []Row
}

// A Column is one pool. Adjacent columns with the same Group ("models",
// "real pools") share a heading.
type Column struct {
	Name  string
	Group string
}

// A Row is one fault at one phase, with one cell per column.
type Row struct {
	Label string // "segfault @ task-run"
	Cells []Cell
}

// A Cell is one scenario's verdict.
type Cell struct {
	Verdict Verdict
	// Details links to the cell's explanation, e.g. "matrix.md#naive-segfault-task-run".
	Details string
	// Picture links to the cell's wait-for graph; optional.
	Picture string
	// Tooltip is shown on hover; optional.
	Tooltip string
}

// Validate reports the first thing wrong with m, naming what is allowed.
func (m *Matrix) Validate() error {
	if m == nil {
		return invalid("nil matrix")
	}
	if len(m.Columns) == 0 || len(m.Rows) == 0 {
		return invalid("matrix has %d columns and %d rows; want at least one of each", len(m.Columns), len(m.Rows))
	}
	for i, c := range m.Columns {
		if c.Name == "" {
			return invalid("column %d has no name", i)
		}
	}
	for i, r := range m.Rows {
		if r.Label == "" {
			return invalid("row %d has no label", i)
		}
		if len(r.Cells) != len(m.Columns) {
			return invalid("row %q has %d cells; want one per column (%d)", r.Label, len(r.Cells), len(m.Columns))
		}
		for j, c := range r.Cells {
			if _, ok := verdictColor[c.Verdict]; !ok {
				return invalid("row %q, column %q: verdict %q; want one of %s", r.Label, m.Columns[j].Name, c.Verdict, verdictList())
			}
		}
	}
	return nil
}

func verdictList() string {
	s := make([]string, len(Verdicts))
	for i, v := range Verdicts {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// The grid is drawn in a monospace font, so a text's width is known
// without font files: every common monospace face advances about 0.6 em
// (DejaVu Sans Mono: 0.602), and charW leaves a margin above that.
const (
	fontPx   = 13
	charW    = 8.2 // px per character at fontPx
	padX     = 10
	rowH     = 26
	headH    = 28
	titleH   = 34
	legendH  = 30
	minCellW = 20 // characters: "hang-timeout" and a "graph" link
	linkText = "graph"
)

func textW(s string) int { return int(float64(len([]rune(s)))*charW + 0.5) }

// SVG draws m as a grid: the row labels on the left, a cell per
// scenario coloured by its verdict, each cell linking to its details and,
// when it has one, a "graph" link to its picture; a legend below.
// The output depends only on m.
func (m *Matrix) SVG() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	labelW := 0
	for _, r := range m.Rows {
		labelW = max(labelW, textW(r.Label))
	}
	labelW += 2 * padX
	cellW := textW(strings.Repeat("x", minCellW)) + 2*padX
	for _, c := range m.Columns {
		cellW = max(cellW, textW(c.Name)+2*padX)
	}
	hasGroups := false
	for _, c := range m.Columns {
		hasGroups = hasGroups || c.Group != ""
	}
	top := titleH
	if hasGroups {
		top += headH
	}
	gridTop := top + headH
	width := labelW + cellW*len(m.Columns)
	width = max(width, textW(m.Title)+2*padX)
	for _, v := range Verdicts {
		width = max(width, padX+legendEntryW(v))
	}
	legend := legendLayout(width)
	height := gridTop + rowH*len(m.Rows) + 10 + legendH*len(legend)

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="%d">`+"\n",
		width, height, width, height, fontPx)
	fmt.Fprintf(&b, `<rect class="background" x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	if m.Title != "" {
		fmt.Fprintf(&b, `<text class="title" x="%d" y="%d" font-size="%d" font-weight="bold">%s</text>`+"\n", padX, titleH-12, fontPx+1, xesc(m.Title))
	}
	if hasGroups {
		for start := 0; start < len(m.Columns); {
			end := start + 1
			for end < len(m.Columns) && m.Columns[end].Group == m.Columns[start].Group {
				end++
			}
			x := labelW + start*cellW
			w := (end - start) * cellW
			fmt.Fprintf(&b, `<g class="group"><rect x="%d" y="%d" width="%d" height="%d" fill="#f3f4f6" stroke="#ffffff" stroke-width="2"/>`, x, titleH, w, headH)
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-style="italic">%s</text></g>`+"\n", x+w/2, titleH+headH-9, xesc(m.Columns[start].Group))
			start = end
		}
	}
	for j, c := range m.Columns {
		x := labelW + j*cellW
		fmt.Fprintf(&b, `<g class="column"><rect x="%d" y="%d" width="%d" height="%d" fill="#f9fafb" stroke="#ffffff" stroke-width="2"/>`, x, top, cellW, headH)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-weight="bold">%s</text></g>`+"\n", x+cellW/2, top+headH-9, xesc(c.Name))
	}
	for i, r := range m.Rows {
		y := gridTop + i*rowH
		fmt.Fprintf(&b, `<text class="row" x="%d" y="%d">%s</text>`+"\n", padX, y+rowH-8, xesc(r.Label))
		for j, c := range r.Cells {
			writeCell(&b, labelW+j*cellW, y, cellW, c)
		}
	}
	writeLegend(&b, legend, gridTop+rowH*len(m.Rows)+10)
	b.WriteString("</svg>\n")
	return b.Bytes(), nil
}

func writeCell(b *bytes.Buffer, x, y, w int, c Cell) {
	col := verdictColor[c.Verdict]
	b.WriteString(`<g class="cell">`)
	if c.Details != "" {
		fmt.Fprintf(b, `<a href="%s">`, xesc(c.Details))
	}
	if c.Tooltip != "" {
		fmt.Fprintf(b, `<title>%s</title>`, xesc(c.Tooltip))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#ffffff" stroke-width="2"/>`, x, y, w, rowH, col[0])
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">%s</text>`, x+padX, y+rowH-8, col[1], xesc(string(c.Verdict)))
	if c.Details != "" {
		b.WriteString(`</a>`)
	}
	if c.Picture != "" {
		fmt.Fprintf(b, `<a class="picture" href="%s"><title>wait-for graph</title><text x="%d" y="%d" fill="%s" text-anchor="end" text-decoration="underline">%s</text></a>`,
			xesc(c.Picture), x+w-padX, y+rowH-8, col[1], linkText)
	}
	b.WriteString("</g>\n")
}

// A legend entry is a swatch, the word and its meaning.
const swatchW = 14

func legendEntryW(v Verdict) int {
	return swatchW + 6 + textW(string(v)+": "+verdictMeaning[v]) + 3*padX
}

// legendLayout splits the legend into lines that fit width; a line
// holds at least one entry, and width grows to fit the widest line.
func legendLayout(width int) [][]Verdict {
	var ls [][]Verdict
	x := padX
	for _, v := range Verdicts {
		if len(ls) == 0 || x+legendEntryW(v) > width {
			ls = append(ls, nil)
			x = padX
		}
		ls[len(ls)-1] = append(ls[len(ls)-1], v)
		x += legendEntryW(v)
	}
	return ls
}

func writeLegend(b *bytes.Buffer, legend [][]Verdict, y int) {
	for _, line := range legend {
		x := padX
		for _, v := range line {
			col := verdictColor[v]
			fmt.Fprintf(b, `<g class="legend"><rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, x, y+6, swatchW, swatchW, col[0])
			fmt.Fprintf(b, `<text x="%d" y="%d">%s</text></g>`+"\n", x+swatchW+6, y+18, xesc(string(v)+": "+verdictMeaning[v]))
			x += legendEntryW(v)
		}
		y += legendH
	}
}

// xesc escapes s for XML text and attribute values.
func xesc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}
