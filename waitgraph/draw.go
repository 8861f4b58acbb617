package waitgraph

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// DrawCommand is the package path of the command that lays out DOT files.
const DrawCommand = "github.com/poolhang/poolhang/cmd/poolhang-draw"

// Draw writes each DOT file's picture beside it as SVG (a.dot -> a.svg).
//
// Layout runs in a child process, cmd/poolhang-draw, so that Graphviz's
// WebAssembly runtime is never linked into a binary that starts workers.
// The child is the binary named by $POOLHANG_DRAW, else poolhang-draw
// beside the running executable (go install puts it there), else `go run`
// of DrawCommand, which needs the Go toolchain and this module, as the
// README's own commands do.
func Draw(ctx context.Context, dotFiles []string) error {
	if len(dotFiles) == 0 {
		return nil
	}
	var cmd *exec.Cmd
	if bin := drawBinary(); bin != "" {
		cmd = exec.CommandContext(ctx, bin, dotFiles...)
	} else {
		gobin, err := exec.LookPath("go")
		if err != nil {
			return fmt.Errorf("drawing needs %s: set POOLHANG_DRAW to a built poolhang-draw, or put the Go toolchain on PATH", DrawCommand)
		}
		cmd = exec.CommandContext(ctx, gobin, append([]string{"run", DrawCommand}, dotFiles...)...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		return fmt.Errorf("drawing %d picture(s): %w: %s", len(dotFiles), err, msg)
	}
	return nil
}

func drawBinary() string {
	if b := os.Getenv("POOLHANG_DRAW"); b != "" {
		return b
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	b := filepath.Join(filepath.Dir(exe), "poolhang-draw")
	if st, err := os.Stat(b); err == nil && st.Mode().IsRegular() {
		return b
	}
	return ""
}
