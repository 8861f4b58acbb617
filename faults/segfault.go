package faults

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/poolhang/poolhang/pools"
)

// segfault: a real invalid memory access. Go turns SIGSEGV into a panic,
// so the action first gives SIGSEGV back its default action, as in a C
// program, then writes to a page mapped PROT_NONE: the kernel kills the
// process and its parent sees the wait status "killed by SIGSEGV".
func init() {
	pools.RegisterAction("segfault", func(s *pools.Strike) error {
		if !s.Worker {
			return errors.New("segfault refused in the parent")
		}
		segfault()
		return errors.New("segfault: the invalid access did not kill the process")
	})
	Register(Kind{
		Name:   "segfault",
		Models: "SIGSEGV from a real invalid memory access (a crash in a C extension)",
		Effect: Dies,
		Order:  50,
		Action: "segfault",
		Phases: union(processEnds, midFrame),
		NotAt:  parentDies,
	})
}

func segfault() {
	// No core file: the point is the death, not the dump.
	unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	var dfl [4]uint64 // struct sigaction with sa_handler = SIG_DFL
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGSEGV), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	page, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return
	}
	page[0] = 1
}
