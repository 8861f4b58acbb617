package proc

import (
	"bytes"
	"fmt"
	"os"
)

// StateLetter is the kernel's state of pid as ps shows it (R, S, D, T,
// Z, ...) from /proc/PID/stat, or '?' if it cannot be read. The caller
// must hold pid unreaped, so that the number is still its process's.
func StateLetter(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return '?'
	}
	// pid (comm) S ...: the state follows the last ')', whatever comm holds.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return '?'
	}
	return b[i+2]
}
