package waitgraph

import (
	"bytes"
	"fmt"
	"strings"
)

// Fonts: Graphviz sizes boxes from its own metrics for these families
// (it has no font files when it runs as WebAssembly), and browsers map
// them to metric-compatible fonts (Liberation Sans for Helvetica on
// Debian), so the text fits the boxes it was measured for.
const (
	dotFont     = "Helvetica"
	dotMonoFont = "Courier"
)

// Colours, chosen so that dark text stays readable on every fill.
var stateFill = [...]string{
	Blocked: "#dbeafe",
	Running: "#dcfce7",
	Zombie:  "#d4d4d4",
	Reaped:  "#ffffff",
	Stopped: "#fef3c7",
}

const (
	rootColor  = "#b91c1c" // the dead party nobody can replace
	stuckFill  = "#fef2f2"
	stuckLine  = "#f87171"
	edgeColor  = "#374151"
	mutedColor = "#4b5563"
)

// wrapWidth is where long labels break, in characters: pictures stay
// narrow enough to read in a review without zooming out.
const (
	wrapWidth = 34
	headWidth = 80
)

// DOT writes g in Graphviz's DOT language. The output depends only on g.
func (g *Graph) DOT() ([]byte, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("digraph waitgraph {\n")
	fmt.Fprintf(&b, "  graph [rankdir=TB, labelloc=t, labeljust=l, fontname=%q, fontsize=12, nodesep=0.35, ranksep=0.55, pad=0.25, bgcolor=\"#ffffff\", label=<%s>];\n",
		dotFont, g.heading())
	nodeStyle := "filled"
	edgeStyle := "solid"
	if g.Provenance == Observed {
		nodeStyle, edgeStyle = "filled,dashed", "dashed"
	}
	fmt.Fprintf(&b, "  node [shape=box, style=%q, fontname=%q, fontsize=11, margin=\"0.14,0.06\", color=%q, penwidth=1.2];\n", nodeStyle, dotFont, edgeColor)
	fmt.Fprintf(&b, "  edge [style=%q, fontname=%q, fontsize=10, color=%q, fontcolor=%q, arrowsize=0.8];\n", edgeStyle, dotFont, edgeColor, edgeColor)

	var stuck, free []Node
	for _, n := range g.Nodes {
		if n.Stuck {
			stuck = append(stuck, n)
		} else {
			free = append(free, n)
		}
	}
	if len(stuck) > 0 {
		b.WriteString("  subgraph cluster_stuck {\n")
		fmt.Fprintf(&b, "    graph [label=<<B>stuck: can never move</B>>, fontname=%q, fontsize=11, fontcolor=%q, style=\"rounded,filled\", fillcolor=%q, color=%q, labeljust=l];\n",
			dotFont, rootColor, stuckFill, stuckLine)
		for _, n := range stuck {
			writeNode(&b, "    ", n, nodeStyle)
		}
		b.WriteString("  }\n")
	}
	for _, n := range free {
		writeNode(&b, "  ", n, nodeStyle)
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s -> %s", dotID(e.From), dotID(e.To))
		if e.On != "" {
			fmt.Fprintf(&b, " [label=<%s>]", lines(wrap(e.On, wrapWidth)))
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// heading is the graph's label: the scenario, the lost job, and how the
// picture is known and read.
func (g *Graph) heading() string {
	var h strings.Builder
	h.WriteString(`<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="2">`)
	fmt.Fprintf(&h, `<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT FACE="%s" POINT-SIZE="12">%s</FONT></TD></TR>`, dotMonoFont, lines(wrap(g.Title, headWidth)))
	if g.Caption != "" {
		fmt.Fprintf(&h, `<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT COLOR="%s"><B>%s</B></FONT></TD></TR>`, rootColor, lines(wrap(g.Caption, headWidth)))
	}
	how := g.Provenance.String()
	if g.Provenance == Observed && g.Evidence != "" {
		how += " (" + g.Evidence + ")"
	}
	how += "; an arrow goes from a waiter to the party that could release it"
	fmt.Fprintf(&h, `<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT POINT-SIZE="10" COLOR="%s">%s</FONT></TD></TR>`, mutedColor, lines(wrap(how, headWidth)))
	h.WriteString(`</TABLE>`)
	return h.String()
}

func writeNode(b *bytes.Buffer, indent string, n Node, style string) {
	var l strings.Builder
	name := n.Label
	if name == "" {
		name = n.ID
	}
	fmt.Fprintf(&l, "<B>%s</B>", esc(name))
	var kind []string
	if k := n.Kind.String(); k != name {
		kind = append(kind, k)
	}
	if n.PID != 0 {
		kind = append(kind, fmt.Sprintf("pid %d", n.PID))
	}
	if len(kind) > 0 {
		fmt.Fprintf(&l, `<BR/><FONT POINT-SIZE="9" COLOR="%s">%s</FONT>`, mutedColor, esc(strings.Join(kind, " · ")))
	}
	if n.Kind != External {
		fmt.Fprintf(&l, "<BR/>%s", esc(n.State.String()))
	}
	if n.Doing != "" {
		fmt.Fprintf(&l, "<BR/><I>%s</I>", lines(wrap(n.Doing, wrapWidth)))
	}
	if n.Job != "" {
		fmt.Fprintf(&l, "<BR/>holds <B>%s</B>", esc(n.Job))
	}
	attrs := []string{fmt.Sprintf("fillcolor=%q", stateFill[n.State])}
	if n.Irreplaceable {
		fmt.Fprintf(&l, `<BR/><FONT COLOR="%s"><B>nobody can replace it</B></FONT>`, rootColor)
		attrs = append(attrs, fmt.Sprintf("color=%q", rootColor), "penwidth=3")
	}
	switch {
	case n.Kind == External:
		attrs = append(attrs, "shape=ellipse")
	case n.Kind == Caller:
		attrs = append(attrs, "peripheries=2")
	case n.Kind == Thread:
		attrs = append(attrs, fmt.Sprintf("style=%q", "rounded,"+style))
	}
	if n.State == Reaped {
		attrs = append(attrs, fmt.Sprintf("style=%q", "dotted"), fmt.Sprintf("fontcolor=%q", mutedColor))
	}
	attrs = append(attrs, fmt.Sprintf("label=<%s>", l.String()))
	fmt.Fprintf(b, "%s%s [%s];\n", indent, dotID(n.ID), strings.Join(attrs, ", "))
}

// dotID quotes s as a DOT identifier.
func dotID(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// esc escapes s for a Graphviz HTML-like label.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\n", " ").Replace(s)
}

// lines escapes each line and joins them with line breaks.
func lines(ls []string) string {
	for i, l := range ls {
		ls[i] = esc(l)
	}
	return strings.Join(ls, "<BR/>")
}

// wrap breaks s into lines of at most width characters at spaces; a
// longer word keeps a line of its own.
func wrap(s string, width int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len([]rune(line))+1+len([]rune(w)) <= width:
			line += " " + w
		default:
			out = append(out, line)
			line = w
		}
	}
	if line != "" || len(out) == 0 {
		out = append(out, line)
	}
	return out
}
