package browsercheck

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolhang/poolhang/waitgraph/internal/fixture"
	"github.com/poolhang/poolhang/waitgraph/layout"
)

//go:embed check.js
var checkJS string

// report is what check.js writes.
type report struct {
	Texts    int
	Width    int
	Height   int
	Problems []string
}

// TestBrowser opens each picture in headless Chromium and checks that
// every label is readable and overlaps nothing, then takes a screenshot.
// Set WAITGRAPH_SCREENSHOTS=DIR to keep the pages and screenshots.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser check skipped in -short mode: it starts Chromium 6 times (about 10 s)")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(chromium); err != nil {
		t.Skipf("browser check skipped: no Chromium at %s (%v); install Debian's chromium or set CHROMIUM", chromium, err)
	}
	dir := os.Getenv("WAITGRAPH_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	observed, err := layout.SVG(ctx, fixture.Observed())
	if err != nil {
		t.Fatal(err)
	}
	committed := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("../../results", name))
		if err != nil {
			t.Fatalf("%v (regenerate results/ with go run ./cmd/poolhang matrix)", err)
		}
		return b
	}
	// The pictures as committed: the matrix, the seed's own hang and its
	// standard cell, and the
	// busiest graph (2.7's respawn behind a dead lock holder: every
	// thread and worker stuck).
	pictures := []struct {
		name     string
		svg      []byte
		minTexts int // labels the picture must show at least
	}{
		{"seed-graph", committed("graphs/seed.svg"), 20},
		{"seed-cell-graph", committed("graphs/naive_segfault_task-run.svg"), 20},
		{"busiest-graph", committed("graphs/respawn_sigkill_idle-lock-holder.svg"), 30},
		{"observed-graph", observed, 20},
		{"matrix", committed("matrix.svg"), 100},
	}
	// The check itself must see faults: a picture with one of each.
	t.Run("check-sees-faults", func(t *testing.T) {
		page := filepath.Join(dir, "faulty.html")
		if err := os.WriteFile(page, htmlPage("faulty", []byte(faulty)), 0o644); err != nil {
			t.Fatal(err)
		}
		rep := measure(t, chromium, page)
		got := strings.Join(rep.Problems, "\n")
		for _, want := range []string{
			`too small (6.0 px): "tiny"`,
			`overlap: "first label" and "second label"`,
			`leaves its box: "far too long for its cell"`,
			`covers a node: "edge label"`,
			`outside the picture: "off the edge"`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("the check missed %s; it reported:\n%s", want, got)
			}
		}
	})
	for _, p := range pictures {
		t.Run(p.name, func(t *testing.T) {
			page := filepath.Join(dir, p.name+".html")
			if err := os.WriteFile(page, htmlPage(p.name, p.svg), 0o644); err != nil {
				t.Fatal(err)
			}
			rep := measure(t, chromium, page)
			t.Logf("%s: %d labels, %dx%d px", p.name, rep.Texts, rep.Width, rep.Height)
			if rep.Texts < p.minTexts {
				t.Errorf("%s: the browser shows %d labels; want at least %d", p.name, rep.Texts, p.minTexts)
			}
			for _, pr := range rep.Problems {
				t.Errorf("%s: %s", p.name, pr)
			}
			shot := filepath.Join(dir, p.name+".png")
			screenshot(t, chromium, page, shot, rep.Width+16, rep.Height+16)
			t.Logf("screenshot: %s", shot)
		})
	}
}

// faulty is a picture with one of each fault the check must report.
const faulty = `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200" font-family="monospace" font-size="13">
<text x="10" y="20" font-size="6">tiny</text>
<text x="10" y="50">first label</text><text x="30" y="52">second label</text>
<g class="cell"><rect x="10" y="70" width="60" height="26" fill="#eee"/><text x="15" y="88">far too long for its cell</text></g>
<g class="node"><polygon points="200,120 300,120 300,170 200,170" fill="#ddd"/><text x="210" y="140">a node</text></g>
<text x="180" y="160">edge label</text>
<text x="350" y="190">off the edge</text>
</svg>`

// htmlPage embeds svg inline, so that the check can measure its labels.
func htmlPage(title string, svg []byte) []byte {
	if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
		svg = svg[i:] // an XML prolog and doctype are not HTML
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>\n", html.EscapeString(title))
	b.WriteString("<style>body{margin:8px;background:#fff} #report{display:none}</style></head><body>\n<div id=\"pic\">\n")
	b.Write(svg)
	b.WriteString("</div>\n<pre id=\"report\"></pre>\n<script>\n")
	b.WriteString(checkJS)
	b.WriteString("</script>\n</body></html>\n")
	return b.Bytes()
}

var reportRE = regexp.MustCompile(`(?s)<pre id="report">(.*?)</pre>`)

func measure(t *testing.T, chromium, page string) report {
	t.Helper()
	dom := runChromium(t, chromium, "--dump-dom", "--virtual-time-budget=5000", "--window-size=1600,1200", "file://"+page)
	m := reportRE.FindSubmatch(dom)
	if m == nil || len(bytes.TrimSpace(m[1])) == 0 {
		t.Fatalf("the page's check wrote no report; DOM tail: %s", tail(dom, 500))
	}
	var rep report
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &rep); err != nil {
		t.Fatalf("report: %v: %s", err, m[1])
	}
	return rep
}

func screenshot(t *testing.T, chromium, page, shot string, w, h int) {
	t.Helper()
	runChromium(t, chromium, "--screenshot="+shot, fmt.Sprintf("--window-size=%d,%d", w, h), "--hide-scrollbars", "file://"+page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("screenshot is %dx%d; want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	// Something was drawn: a blank page has one colour.
	colours := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r, g, bl}] = true
		}
	}
	if len(colours) < 8 {
		t.Errorf("screenshot %s has %d colours; the picture was not drawn", shot, len(colours))
	}
}

// runChromium runs headless Chromium in its own process group with a
// throwaway profile, and leaves none of its processes behind.
func runChromium(t *testing.T, chromium string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	profile := t.TempDir()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile}
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// Chromium's helpers share its process group; any left would outlive
	// the test. The group id cannot be reused while a member lives.
	if cmd.Process != nil {
		if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr == nil {
			t.Logf("chromium left processes in its group; killed them")
		} else if !errors.Is(kerr, syscall.ESRCH) {
			t.Errorf("killing chromium's group: %v", kerr)
		}
	}
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, tail(stderr.Bytes(), 2000))
	}
	return stdout.Bytes()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// resultsMatrix reads the committed matrix.json into the matrix at a
// glance, with the links the matrix command is to write: each cell to its
// details in matrix.md, each hang cell to its picture.

func TestMain(m *testing.M) {
	code := m.Run()
	layout.Cleanup()
	os.Exit(code)
}
