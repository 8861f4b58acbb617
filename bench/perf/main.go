// Command perf runs the Go benchmarks of poolhang and bench/cpython.py on
// this machine in one go, prints the Go pools side by side with CPython's
// multiprocessing.Pool and ProcessPoolExecutor, checks the performance
// targets, and writes the report to results/perf.md.
//
// Run it from the repository root:
//
//	go run ./bench/perf           # full run, about a minute on 2 cores
//	go run ./bench/perf -quick    # fewer iterations, a smoke run
//
// The exit status is 0 when every command ran and its output could be
// read, whether or not the targets were met (a missed target is reported
// as MISS); 1 when a command failed, timed out or left a process behind, or
// its output could not be read; 2 on bad usage; 130 on SIGINT or SIGTERM.
// Every command runs in its own process group under a timeout, and the
// whole group is killed on timeout or interrupt, so the run cannot hang.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/poolhang/poolhang/pools"
)

const (
	module  = "github.com/poolhang/poolhang"
	command = "go run ./bench/perf"

	mpPool = "multiprocessing.Pool"
	ppe    = "ProcessPoolExecutor"

	// Targets.
	minSpeedup      = 2.0 // every strategy vs multiprocessing.Pool, same workers
	maxMatrixS      = 5.0 // whole result matrix, seconds
	maxVerdictMS    = 20.0
	maxScenarioMS   = 10.0
	hangTimeoutSecs = "1" // T of CPython's bounded wait
)

var workerCounts = []int{2, 8}

// config is what -quick changes.
type config struct {
	throughputTime string // -benchtime of BenchmarkThroughput
	rounds         int    // of BenchmarkThroughput then CPython's, back to back
	scenarioTime   string // BenchmarkHangVerdict and BenchmarkScenario
	matrixTime     string
	pyTasks        int
}

var (
	fullConfig  = config{"20x", 5, "30x", "3x", 20000}
	quickConfig = config{"5x", 1, "5x", "1x", 2000}
)

func main() {
	os.Exit(run())
}

func run() int {
	out := flag.String("out", "results/perf.md", "where to write the report")
	quick := flag.Bool("quick", false, "fewer iterations: a fast smoke run, not for publication")
	python := flag.String("python", "python3", "Python interpreter for bench/cpython.py")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [-quick] [-out file] [-python python3]\n\n", command)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	cfg := fullConfig
	if *quick {
		cfg = quickConfig
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	rep, err := measure(ctx, cfg, *python)
	if err != nil {
		logf("perf: error: %v", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	rep.quick = *quick
	rep.wall = time.Since(start)

	fmt.Print(rep.summary())
	if err := writeFile(*out, []byte(rep.markdown())); err != nil {
		logf("perf: error: %v", err)
		return 1
	}
	logf("perf: wrote %s in %.1f s", *out, rep.wall.Seconds())
	return 0
}

// ---------------------------------------------------------------------------
// Measuring.

type report struct {
	quick bool
	wall  time.Duration
	date  time.Time

	cpu, kernel, goVersion string
	cores                  int
	loadStart, loadEnd     string // /proc/loadavg, 1/5/15-minute averages
	commands               []string
	cfg                    config

	strategies []pools.Strategy
	goTPS      map[string]float64 // "naive/2" -> median tasks/s
	goTPSRuns  map[string][]float64
	// Throughput is measured in rounds, each a Go run then a CPython run
	// back to back, so a ratio compares the two under the same load.
	pyRounds   []pyResult
	ratios     map[string][]float64 // "naive/2" -> each round's ratio to mpPool
	goBatch    float64              // tasks per iteration of BenchmarkThroughput, as it reports
	verdictMS  float64
	scenarioMS float64
	matrixS    float64

	py pyResult
}

type pyResult struct {
	Python        string         `json:"python"`
	CPUCount      int            `json:"cpu_count"`
	Tasks         int            `json:"tasks"`
	Repeat        int            `json:"repeat"`
	Throughput    []pyThroughput `json:"throughput"`
	HangDetection []struct {
		Pool    string  `json:"pool"`
		How     string  `json:"how"`
		Seconds float64 `json:"seconds"`
	} `json:"hang_detection"`
}

type pyThroughput struct {
	Pool      string  `json:"pool"`
	Workers   int     `json:"workers"`
	TasksPerS float64 `json:"tasks_per_s"`
}

func (p pyResult) tps(pool string, workers int) float64 {
	for _, t := range p.Throughput {
		if t.Pool == pool && t.Workers == workers {
			return t.TasksPerS
		}
	}
	return math.NaN()
}

func measure(ctx context.Context, cfg config, python string) (*report, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	rep := &report{
		date:       time.Now().UTC(),
		cpu:        cpuModel(),
		cores:      runtime.NumCPU(),
		kernel:     strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		cfg:        cfg,
		strategies: pools.Strategies(),
		loadStart:  loadAvg(),
	}
	if l, err := strconv.ParseFloat(strings.Fields(rep.loadStart + " x")[0], 64); err == nil && l > 0.25*float64(rep.cores) {
		logf("perf: warning: load average %s on %d cores before the run; other work will skew the numbers", rep.loadStart, rep.cores)
	}

	gv, err := runCmd(ctx, root, "go", time.Minute, "go", "version")
	if err != nil {
		return nil, err
	}
	rep.goVersion = strings.TrimSpace(strings.Join(gv, " "))

	// Throughput, in rounds: go test's own -timeout is below ours, so a
	// stuck benchmark panics with every goroutine's stack before we kill it.
	bench := map[string][]map[string]float64{}
	goRound := []string{"test", "-run", "^$", "-bench", "^BenchmarkThroughput$", "-benchtime", cfg.throughputTime,
		"-count", "1", "-timeout", "8m", "./pools/"}
	pyRound := []string{"bench/cpython.py", "--json", "--part", "throughput", "--tasks", strconv.Itoa(cfg.pyTasks),
		"--repeat", "1"} // one run a round: the rounds are the repeats
	rep.commands = append(rep.commands, fmt.Sprintf("%d rounds of:", cfg.rounds),
		"    "+shellQuote(append([]string{"go"}, goRound...)),
		"    "+shellQuote(append([]string{python}, pyRound...)))
	for i := range cfg.rounds {
		label := fmt.Sprintf("round %d", i+1)
		lines, err := runCmd(ctx, root, label+" go", 10*time.Minute, "go", goRound...)
		if err != nil {
			return nil, err
		}
		parseBench(lines, bench)
		pyLines, err := runCmd(ctx, root, label+" cpython", 8*time.Minute, python, pyRound...)
		if err != nil {
			return nil, err
		}
		var py pyResult
		if err := parsePython(pyLines, &py); err != nil {
			return nil, err
		}
		rep.pyRounds = append(rep.pyRounds, py)
	}

	goTests := []struct {
		label, bench, benchtime string
		pkg                     string
	}{
		{"scenarios", "^(BenchmarkHangVerdict|BenchmarkScenario)$", cfg.scenarioTime, "./scenarios/"},
		{"matrix", "^BenchmarkMatrix$", cfg.matrixTime, "./scenarios/"},
	}
	for _, t := range goTests {
		args := []string{"test", "-run", "^$", "-bench", t.bench, "-benchtime", t.benchtime,
			"-count", "1", "-timeout", "8m", t.pkg}
		rep.commands = append(rep.commands, shellQuote(append([]string{"go"}, args...)))
		lines, err := runCmd(ctx, root, t.label, 10*time.Minute, "go", args...)
		if err != nil {
			return nil, err
		}
		parseBench(lines, bench)
	}

	// CPython's hang detection.
	pyArgs := []string{"bench/cpython.py", "--json", "--part", "hang", "--hang-timeout", hangTimeoutSecs}
	rep.commands = append(rep.commands, shellQuote(append([]string{python}, pyArgs...)))
	pyLines, err := runCmd(ctx, root, "cpython", 8*time.Minute, python, pyArgs...)
	if err != nil {
		return nil, err
	}
	if err := parsePython(pyLines, &rep.py); err != nil {
		return nil, err
	}
	rep.loadEnd = loadAvg()

	return rep, rep.collect(bench)
}

// collect takes the numbers the report needs from the benchmark results
// and fails if any is missing.
func (r *report) collect(bench map[string][]map[string]float64) error {
	var missing []string
	metric := func(name, unit string) []float64 {
		var vs []float64
		for _, run := range bench[name] {
			if v, ok := run[unit]; ok {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			missing = append(missing, name+" "+unit)
		}
		return vs
	}
	r.goTPS = map[string]float64{}
	r.goTPSRuns = map[string][]float64{}
	for _, s := range r.strategies {
		for _, w := range workerCounts {
			vs := metric(fmt.Sprintf("BenchmarkThroughput/%s/workers=%d", s, w), "tasks/s")
			k := tpsKey(s, w)
			r.goTPSRuns[k] = vs
			r.goTPS[k] = median(vs)
			r.goBatch = median(metric(fmt.Sprintf("BenchmarkThroughput/%s/workers=%d", s, w), "tasks/op"))
		}
	}
	r.py.Throughput = nil
	r.py.Tasks, r.py.Repeat = r.cfg.pyTasks, len(r.pyRounds)
	for _, pool := range []string{mpPool, ppe} {
		for _, w := range workerCounts {
			var vs []float64
			for _, py := range r.pyRounds {
				if v := py.tps(pool, w); !math.IsNaN(v) {
					vs = append(vs, v)
				}
			}
			if len(vs) > 0 {
				r.py.Throughput = append(r.py.Throughput, pyThroughput{pool, w, median(vs)})
			}
		}
	}
	r.ratios = map[string][]float64{}
	for _, s := range r.strategies {
		for _, w := range workerCounts {
			k := tpsKey(s, w)
			if len(r.goTPSRuns[k]) != len(r.pyRounds) {
				missing = append(missing, fmt.Sprintf("%s: %d Go runs for %d rounds", k, len(r.goTPSRuns[k]), len(r.pyRounds)))
				continue
			}
			for i, v := range r.goTPSRuns[k] {
				r.ratios[k] = append(r.ratios[k], v/r.pyRounds[i].tps(mpPool, w))
			}
		}
	}
	r.verdictMS = median(metric("BenchmarkHangVerdict", "ms-to-verdict-median"))
	r.scenarioMS = median(metric("BenchmarkScenario", "ms-wall-median"))
	r.matrixS = median(metric("BenchmarkMatrix", "s-per-matrix"))
	for _, pool := range []string{mpPool, ppe} {
		for _, w := range workerCounts {
			if math.IsNaN(r.py.tps(pool, w)) {
				missing = append(missing, fmt.Sprintf("cpython.py throughput of %s with %d workers", pool, w))
			}
		}
	}
	if _, ok := r.pyHang(mpPool); !ok {
		missing = append(missing, "cpython.py hang detection of "+mpPool)
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing from the output: %s", strings.Join(missing, "; "))
	}
	return nil
}

func tpsKey(s pools.Strategy, workers int) string { return fmt.Sprintf("%s/%d", s, workers) }

func (r *report) pyHang(pool string) (seconds float64, ok bool) {
	for _, h := range r.py.HangDetection {
		if h.Pool == pool {
			return h.Seconds, true
		}
	}
	return 0, false
}

func (r *report) pyHow(pool string) string {
	for _, h := range r.py.HangDetection {
		if h.Pool == pool {
			return h.How
		}
	}
	return ""
}

// benchLine matches a result line of go test -bench; the name's -N suffix
// is GOMAXPROCS.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.+)$`)

// parseBench adds each result line to bench: name -> one map unit -> value
// per run (-count).
func parseBench(lines []string, bench map[string][]map[string]float64) {
	for _, line := range lines {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		run := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				run[f[i+1]] = v
			}
		}
		bench[m[1]] = append(bench[m[1]], run)
	}
}

func parsePython(lines []string, py *pyResult) error {
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "{") {
			if err := json.Unmarshal([]byte(l), py); err != nil {
				return fmt.Errorf("cpython.py output: %w", err)
			}
			return nil
		}
	}
	return errors.New("cpython.py printed no JSON object")
}

// ---------------------------------------------------------------------------
// Running commands.

var stderrMu sync.Mutex

func logf(format string, a ...any) {
	stderrMu.Lock()
	defer stderrMu.Unlock()
	fmt.Fprintf(os.Stderr, format+"\n", a...)
}

// lineWriter echoes each complete line to stderr with a prefix, as the
// progress of the run, and keeps the lines if keep is set.
type lineWriter struct {
	prefix string
	keep   bool
	buf    []byte
	lines  []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.line(string(w.buf))
		w.buf = nil
	}
}

func (w *lineWriter) line(s string) {
	logf("%s%s", w.prefix, strings.TrimRight(s, "\r"))
	if w.keep {
		w.lines = append(w.lines, s)
	}
}

// runCmd runs name args in dir, in a new process group, with a timeout,
// streaming its output to stderr, and returns its standard output lines.
// On timeout or interrupt the whole group is killed. A command that exits
// but leaves a process of its group behind is an error (the stragglers are
// killed).
func runCmd(ctx context.Context, dir, label string, timeout time.Duration, name string, args ...string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	show := shellQuote(append([]string{name}, args...))
	logf("perf: running %s", show)
	t0 := time.Now()

	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdin = nil
	stdout := &lineWriter{prefix: "  [" + label + "] ", keep: true}
	stderr := &lineWriter{prefix: "  [" + label + "] "}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second

	err := cmd.Run()
	stdout.flush()
	stderr.flush()
	if cmd.Process != nil {
		// A straggler holding the output pipes also makes Run return
		// exec.ErrWaitDelay; the straggler is the cause to report.
		if left := reapGroup(cmd.Process.Pid); left && (err == nil || errors.Is(err, exec.ErrWaitDelay)) {
			err = errors.New("exited but left processes of its process group running (killed them)")
		}
	}
	switch {
	case err == nil:
		logf("perf: done in %.1f s: %s", time.Since(t0).Seconds(), show)
		return stdout.lines, nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("%s: timed out after %v (killed)", show, timeout)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s: interrupted", show)
	default:
		return nil, fmt.Errorf("%s: %w", show, err)
	}
}

// reapGroup waits up to 3 s for process group pgid to empty (children that
// die with their parent may take a moment to be reaped), then kills what is
// left. It reports whether anything was left.
func reapGroup(pgid int) bool {
	deadline := time.Now().Add(3 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			logf("perf: process group %d still has processes; killing them", pgid)
			syscall.Kill(-pgid, syscall.SIGKILL)
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t'\"$^|()*?[]\\&;<>!#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// ---------------------------------------------------------------------------
// Machine.

func repoRoot() (string, error) {
	b, err := os.ReadFile("go.mod")
	if err != nil || !regexp.MustCompile(`(?m)^module\s+`+regexp.QuoteMeta(module)+`\s*$`).Match(b) {
		return "", fmt.Errorf("run %q from the root of %s (no go.mod of that module here)", command, module)
	}
	return os.Getwd()
}

func cpuModel() string {
	for _, line := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAvg returns the 1, 5 and 15-minute load averages, or "".
func loadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}

func writeFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// ---------------------------------------------------------------------------
// Numbers and tables.

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// thousands formats v rounded to an integer with comma separators.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func ratio(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0fx", v)
	}
	return fmt.Sprintf("%.2fx", v)
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// table renders a Markdown table with padded columns, readable as plain
// text too.
func table(header []string, rows [][]string) string {
	width := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			fmt.Fprintf(&b, " %s%s |", c, strings.Repeat(" ", width[i]-len([]rune(c))))
		}
		b.WriteString("\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	return b.String()
}

func (r *report) throughputTable() string {
	header := []string{"workers"}
	for _, s := range r.strategies {
		header = append(header, string(s)+" (Go)")
	}
	header = append(header, mpPool, ppe)
	var rows [][]string
	for _, w := range workerCounts {
		base := r.py.tps(mpPool, w)
		row := []string{strconv.Itoa(w)}
		cell := func(v, x float64) string { return fmt.Sprintf("%s (%s)", thousands(v), ratio(x)) }
		for _, s := range r.strategies {
			k := tpsKey(s, w)
			row = append(row, cell(r.goTPS[k], median(r.ratios[k])))
		}
		row = append(row, cell(base, 1), cell(r.py.tps(ppe, w), r.py.tps(ppe, w)/base))
		rows = append(rows, row)
	}
	return table(header, rows)
}

func (r *report) hangTable() string {
	rows := [][]string{}
	for _, pool := range []string{mpPool, ppe} {
		if s, ok := r.pyHang(pool); ok {
			how := r.pyHow(pool)
			if pool == mpPool {
				how = fmt.Sprintf("bounded wait get(timeout=%s s) expired", hangTimeoutSecs)
			}
			rows = append(rows, []string{pool + " (CPython)", how, "the submit", fmt.Sprintf("%.1f ms", s*1000)})
		}
	}
	rows = append(rows, []string{"poolhang verdict (naive, segfault @ task-run)",
		"hang proven from the pool's state", "the last progress",
		fmt.Sprintf("%.3f ms (median of %s)", r.verdictMS, strings.TrimSuffix(r.cfg.scenarioTime, "x"))})
	return table([]string{"who", "how the caller learns", "clock starts at", "time"}, rows)
}

func (r *report) hangRatio() float64 {
	s, _ := r.pyHang(mpPool)
	return s * 1000 / r.verdictMS
}

func (r *report) otherTable() string {
	n := strings.TrimSuffix(r.cfg.scenarioTime, "x")
	return table([]string{"measurement", "value"}, [][]string{
		{"2-worker 6-job scenario, end to end incl. process start and teardown (median of " + n + ")",
			fmt.Sprintf("%.3f ms", r.scenarioMS)},
		{"whole result matrix, every cell once (median of " + strings.TrimSuffix(r.cfg.matrixTime, "x") + ")",
			fmt.Sprintf("%.2f s", r.matrixS)},
	})
}

type target struct {
	what, measured string
	ok             bool
}

func (r *report) targets() []target {
	var ts []target
	for _, w := range workerCounts {
		base := r.py.tps(mpPool, w)
		for _, s := range r.strategies {
			k := tpsKey(s, w)
			x := median(r.ratios[k])
			ts = append(ts, target{
				what: fmt.Sprintf("%s, %d workers: >= %gx %s throughput", s, w, minSpeedup, mpPool),
				measured: fmt.Sprintf("%s, median of %d rounds (%s vs %s tasks/s, lowest round %s)",
					ratio(x), len(r.ratios[k]), thousands(r.goTPS[k]), thousands(base), ratio(slices.Min(r.ratios[k]))),
				ok: x >= minSpeedup,
			})
		}
	}
	ts = append(ts,
		target{fmt.Sprintf("whole result matrix < %g s", maxMatrixS), fmt.Sprintf("%.2f s", r.matrixS), r.matrixS < maxMatrixS},
		target{fmt.Sprintf("proven hang verdict within %g ms of the last progress", maxVerdictMS), fmt.Sprintf("%.3f ms", r.verdictMS), r.verdictMS <= maxVerdictMS},
		target{fmt.Sprintf("2-worker 6-job scenario median <= %g ms", maxScenarioMS), fmt.Sprintf("%.3f ms", r.scenarioMS), r.scenarioMS <= maxScenarioMS},
	)
	return ts
}

func (r *report) targetTable() (string, int, int) {
	var rows [][]string
	met := 0
	ts := r.targets()
	for _, t := range ts {
		rows = append(rows, []string{t.what, t.measured, passMiss(t.ok)})
		if t.ok {
			met++
		}
	}
	return table([]string{"target", "measured", "result"}, rows), met, len(ts)
}

// summary is what goes to standard output.
func (r *report) summary() string {
	var b strings.Builder
	quick := ""
	if r.quick {
		quick = " (quick run)"
	}
	fmt.Fprintf(&b, "poolhang perf%s: %s, %d cores, %s/%s, %s, Python %s, %s\n\n", quick,
		r.cpu, r.cores, runtime.GOOS, runtime.GOARCH, goVersionWord(r.goVersion), r.py.Python, r.date.Format(time.RFC3339))
	fmt.Fprintf(&b, "Throughput, tasks/s (ratio to %s at the same worker count):\n\n%s\n", mpPool, r.throughputTable())
	fmt.Fprintf(&b, "Hang detection after a worker dies in the middle of a task:\n\n%s\n", r.hangTable())
	fmt.Fprintf(&b, "%s's bounded wait / proven hang verdict: %s\n\n", mpPool, ratio(r.hangRatio()))
	fmt.Fprintf(&b, "%s\n", r.otherTable())
	tt, met, n := r.targetTable()
	fmt.Fprintf(&b, "Targets (%d of %d met):\n\n%s", met, n, tt)
	return b.String()
}

func goVersionWord(v string) string {
	// "go version go1.26.8 linux/amd64" -> "go1.26.8"
	if f := strings.Fields(v); len(f) >= 3 {
		return f[2]
	}
	return v
}

// markdown is results/perf.md.
func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# poolhang performance\n\n")
	w("Generated by `%s` in %.0f s. Regenerate it with the same command from the repository root; see bench/README.md.\n\n", command, r.wall.Seconds())
	if r.quick {
		w("**This is a quick smoke run (`-quick`): few iterations, not for publication.**\n\n")
	}
	kernel := ""
	if r.kernel != "" {
		kernel = " (kernel " + r.kernel + ")"
	}
	w("%s", table([]string{"", ""}, [][]string{
		{"machine", fmt.Sprintf("%s, %d cores (Python sees %d)", r.cpu, r.cores, r.py.CPUCount)},
		{"OS/arch", runtime.GOOS + "/" + runtime.GOARCH + kernel},
		{"Go", r.goVersion},
		{"Python", "CPython " + r.py.Python + ", start method fork"},
		{"load average (1/5/15 min)", fmt.Sprintf("%s at the start, %s at the end", r.loadStart, r.loadEnd)},
		{"date (UTC)", r.date.Format("2006-01-02 15:04:05")},
		{"command", "`" + command + "`"},
	}))
	w("\nIt ran, in this order:\n\n")
	for _, c := range r.commands {
		w("    %s\n", c)
	}

	w("\n## Throughput\n\n")
	w("Tasks per second of a trivial task (`square`, i.e. x*x), one task per message, fault-free. ")
	w("Each cell is the median tasks/s over the rounds and, in parentheses, the median over the rounds of its ratio to %s with the same number of workers in the same round. ", mpPool)
	w("A round runs the Go benchmark and then CPython's, back to back, so that each ratio compares the two under the same load on the machine.\n\n")
	w("%s\n", r.throughputTable())
	w("Go (`BenchmarkThroughput` in pools/bench_test.go): one pool per run, started and warmed up (a map of 2×workers tasks) outside the timed part; ")
	w("each iteration maps %d tasks and checks every value; a round is one run of %s iterations. ",
		int(r.goBatch), strings.TrimSuffix(r.cfg.throughputTime, "x"))
	w("CPython (bench/cpython.py): a fresh pool per run, start-up and a warm-up map of 2×workers tasks not timed; ")
	w("one map of %d tasks with chunksize 1 per round; %d rounds.\n\n", r.py.Tasks, len(r.pyRounds))
	w("Each round (tasks/s, and the ratio to %s in that round):\n\n", mpPool)
	for _, wk := range workerCounts {
		var vs []string
		for _, py := range r.pyRounds {
			vs = append(vs, thousands(py.tps(mpPool, wk)))
		}
		w("- %s, %d workers: %s\n", mpPool, wk, strings.Join(vs, ", "))
	}
	for _, s := range r.strategies {
		for _, wk := range workerCounts {
			k := tpsKey(s, wk)
			var vs []string
			for i, v := range r.goTPSRuns[k] {
				vs = append(vs, fmt.Sprintf("%s (%s)", thousands(v), ratio(r.ratios[k][i])))
			}
			w("- %s, %d workers: %s\n", s, wk, strings.Join(vs, ", "))
		}
	}

	w("\n## Hang detection\n\n")
	w("A pool of 2 workers maps 6 tasks and the worker running task 2 dies (CPython: SIGKILL; ours: a segfault, `BenchmarkHangVerdict`). ")
	w("How long until the caller learns that the job will never finish?\n\n")
	w("%s\n", r.hangTable())
	w("%s's bounded wait / our proven hang verdict: **%s**.\n\n", mpPool, ratio(r.hangRatio()))
	w("The clocks differ on purpose. %s loses the task and waits forever; the caller's only tool is `get(timeout=T)`, ", mpPool)
	w("so noticing always costs T from the submit, whatever T is, and a shorter T raises false alarms on slow jobs. ")
	w("Our verdict is proven from the pool's state (every party the caller waits for is blocked on something only a dead or blocked party could release), ")
	w("never from a timeout, and its clock starts at the last progress of any party, the earliest moment the hang exists. ")
	w("%s does not hang in this scenario: it breaks the pool and fails every pending job (BrokenProcessPool); it is shown for reference.\n", ppe)

	w("\n## Scenarios and the matrix\n\n")
	w("%s", r.otherTable())
	w("\nFrom `BenchmarkScenario` (ms-wall-median) and `BenchmarkMatrix` (s-per-matrix), scenarios package.\n")

	tt, met, n := r.targetTable()
	w("\n## Targets\n\n%d of %d met on this machine.\n\n%s", met, n, tt)
	return b.String()
}
