package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// StateLetter is the kernel's state of pid as ps shows it (R, S, D, T,
// Z, ...) from /proc/PID/stat, or '?' if it cannot be read. The caller
// must hold pid unreaped, so that the number is still its process's.
func StateLetter(pid int) byte {
	st, _, ok := Stat(pid)
	if !ok {
		return '?'
	}
	return st
}

// Stat reads pid's state letter and parent pid from /proc/PID/stat; ok is
// false if the process is gone.
func Stat(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) S PPID ...: the fields follow the last ')', whatever comm holds.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(string(f[1]))
	return f[0][0], ppid, true
}
