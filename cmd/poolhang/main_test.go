package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolhang/poolhang/pools"
)

// The test binary is the command: with POOLHANG_TEST_MAIN set it runs
// main's code on its arguments, so every case below runs the real
// command in its own process, worker handshake included.
func TestMain(m *testing.M) {
	if os.Getenv("POOLHANG_TEST_MAIN") == "1" {
		main()
	}
	pools.MaybeServeWorker()
	os.Exit(m.Run())
}

type result struct {
	code           int
	stdout, stderr string
}

// poolhang runs the command with args, env added, and extra files as
// descriptors 3 and up; it is killed after 20 s.
func poolhang(t *testing.T, env []string, extra []*os.File, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "POOLHANG_TEST_MAIN=1"), env...)
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("poolhang %q did not end in 20 s; stderr: %s", args, errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func TestInputsAreRefusedBeforeAnyWork(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	aFile := write("a-file", "")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"empty replay", []string{"replay", write("empty", "")}, "holds no scenario"},
		{"comment-only replay", []string{"replay", write("comments", "# nothing\n  # here\n")}, "holds no scenario"},
		{"whitespace-only replay", []string{"replay", write("blank", "  \n\t\n\n")}, "holds no scenario"},
		{"control characters in a file name", []string{"replay", filepath.Join(dir, "no\x1b[31mfile")}, `no\x1b[31mfile`},
		{"extra matrix argument", []string{"matrix", "extra"}, `unknown argument "extra"`},
		{"empty -out", []string{"matrix", "-out", ""}, "-out is empty"},
		{"unwritable -out", []string{"matrix", "-out", filepath.Join(aFile, "results")}, "-out "},
		{"deadline on a naive pool", []string{"run", "pool=naive workers=2 jobs=6 deadline=100ms"}, "per-task deadlines, and they are positive"},
		{"zero deadline", []string{"run", "pool=naive workers=2 jobs=6 deadline=0s"}, "a deadline is positive"},
		{"negative deadline", []string{"run", "pool=tracked workers=2 jobs=6 deadline=-1s"}, "a deadline is positive"},
		{"a deadline past the backstop", []string{"run", "pool=tracked workers=2 jobs=6 deadline=1h fault=stuck@task-run:2"}, "allowed up to 2s"},
		{"too much memory", []string{"run", "pool=tracked workers=64 jobs=4096 payload=67108864"}, "GiB of memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := poolhang(t, nil, nil, tc.args...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want a non-zero exit and %q", r.code, r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("refused input still ran: stdout %q", r.stdout)
			}
			if strings.Contains(r.stderr, "\x1b") {
				t.Errorf("stderr carries a raw control character: %q", r.stderr)
			}
			t.Logf("%s: %q in %s", tc.name, strings.TrimSpace(r.stderr), time.Since(start).Round(time.Millisecond))
		})
	}
	// Nothing was written for the refused -out.
	if _, err := os.Stat(filepath.Join(dir, "results")); err == nil {
		t.Error("a refused matrix wrote results")
	}
}

// An error quotes a short prefix of what it refuses, never 100 KB of it.
func TestErrorsQuoteAShortPrefix(t *testing.T) {
	long := strings.Repeat("A", 100_000)
	for _, args := range [][]string{
		{"run", "pool=" + long + " workers=2 jobs=6"},
		{"run", "pool=naive workers=2 jobs=6 fault=" + long + "@task-run:2"},
		{"matrix", long},
	} {
		r := poolhang(t, nil, nil, args...)
		if r.code == 0 || len(r.stderr) > 400 {
			t.Errorf("%.40q...: exit %d, %d bytes of stderr: %.200q", args[1], r.code, len(r.stderr), r.stderr)
		}
	}
}

// The worker variable alone does not make a worker: `poolhang run` with
// POOLHANG_WORKER set and a file on descriptor 3 runs the scenario and
// leaves the file alone.
func TestWorkerModeNeedsTheHandshake(t *testing.T) {
	path := filepath.Join(t.TempDir(), "victim")
	orig := bytes.Repeat([]byte("precious "), 8192)
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, spec := range []string{"naive 0", "tracked 1 00112233445566778899aabbccddeeff"} {
		r := poolhang(t, []string{"POOLHANG_WORKER=" + spec}, []*os.File{f}, "run", "pool=naive workers=2 jobs=6")
		if r.code != 0 || !strings.Contains(r.stdout, "verdict: completed") {
			t.Errorf("POOLHANG_WORKER=%q: exit %d, stdout %q, stderr %q; want the scenario run as usual", spec, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "ignoring POOLHANG_WORKER") {
			t.Errorf("POOLHANG_WORKER=%q: stderr %q does not say the variable was ignored", spec, r.stderr)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, orig) {
			t.Fatalf("POOLHANG_WORKER=%q: the file on descriptor 3 was changed", spec)
		}
	}
}
