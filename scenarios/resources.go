package scenarios

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// What a scenario may ask of the machine, whatever the machine.
const (
	// MaxMemory bounds a scenario's estimated memory (see Needs).
	MaxMemory = 4 << 30
	// MaxDeadline bounds the tracked pool's per-task deadline: a stuck
	// task is answered only when its deadline fires, and with MaxFaults
	// of them queued on one worker, (MaxFaults+1) deadlines still fire
	// before the default 20 s backstop, so a deadline is never mistaken
	// for a hang-timeout.
	MaxDeadline = 2 * time.Second
)

// Per-process figures the estimate uses, measured on Linux/amd64 with
// Go 1.26: a worker is a Go process (runtime.GOMAXPROCS(2)) with a few
// runtime threads, one blocked in read(2) and one in its mailbox's futex
// wait; its resident size before any payload is a few MiB.
const (
	threadsPerWorker = 8
	parentThreads    = 32
	workerMemory     = 8 << 20
	parentFiles      = 32
	filesPerWorker   = 8 // private pipe ends, pidfds, and the four a start holds for a moment
)

// Needs is what a scenario needs from the machine, estimated from above.
type Needs struct {
	Memory  int64 // bytes, parent and workers
	Threads int64 // tasks of this user: the parent's and every worker's threads
	Files   int64 // descriptors open at once in the parent
}

// Needs estimates what running s takes. Memory: every echoed payload is
// held as a result until the caller has them all (jobs x payload), up to
// workers+64 encoded tasks wait in the parent (failfast's call queue is
// the deepest), a task's argument and the expected value are one payload
// each, and each worker holds its task frame, the result's encoding and
// its frame (4 x payload) on top of its own few MiB.
func (s Scenario) Needs() Needs {
	p, j, w := int64(s.Payload), int64(s.Jobs), int64(s.Workers)
	inFlight := min(j, w+64)
	return Needs{
		Memory:  p*(j+inFlight+2) + w*(4*p+workerMemory),
		Threads: w*threadsPerWorker + parentThreads,
		Files:   w*filesPerWorker + parentFiles,
	}
}

// A Machine is what the scenario may use: available memory and the
// process's limits. Zero or negative means no limit.
type Machine struct {
	MemAvailable int64 // /proc/meminfo MemAvailable
	NProc        int64 // RLIMIT_NPROC, where enforced (not for root)
	NoFile       int64 // RLIMIT_NOFILE
	AS           int64 // RLIMIT_AS
}

// ThisMachine reads the machine's figures now.
func ThisMachine() Machine { return thisMachine(true) }

// thisMachine reads the limits, and MemAvailable only if mem is set: a
// scenario of a few MiB need not read /proc (Parse runs Validate, and a
// fuzzer runs Parse millions of times).
func thisMachine(mem bool) Machine {
	var m Machine
	if mem {
		m.MemAvailable = memAvailable()
	}
	lim := func(res int) int64 {
		var r unix.Rlimit
		if unix.Getrlimit(res, &r) != nil || r.Cur == unix.RLIM_INFINITY || r.Cur > 1<<62 {
			return 0
		}
		return int64(r.Cur)
	}
	if unix.Geteuid() != 0 { // root is not held to RLIMIT_NPROC
		m.NProc = lim(unix.RLIMIT_NPROC)
	}
	m.NoFile = lim(unix.RLIMIT_NOFILE)
	m.AS = lim(unix.RLIMIT_AS)
	return m
}

func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemAvailable:")); ok {
			fs := bytes.Fields(v)
			if len(fs) == 0 {
				return 0
			}
			if n, err := strconv.ParseInt(string(fs[0]), 10, 64); err == nil {
				return n << 10 // kB
			}
		}
	}
	return 0
}

// Fits reports why s cannot run on m, with the figures, or nil. Memory
// must fit in half of what is available (the rest is the machine's), and
// below RLIMIT_AS; threads below RLIMIT_NPROC; descriptors below
// RLIMIT_NOFILE.
func (s Scenario) Fits(m Machine) error {
	n := s.Needs()
	what := fmt.Sprintf("workers=%d jobs=%d payload=%d", s.Workers, s.Jobs, s.Payload)
	if n.Memory > MaxMemory {
		return fmt.Errorf("scenario: %s needs about %s of memory, more than the %s a scenario may use", what, bytesString(n.Memory), bytesString(MaxMemory))
	}
	if m.MemAvailable > 0 && n.Memory > m.MemAvailable/2 {
		return fmt.Errorf("scenario: %s needs about %s of memory, more than half of the %s available (MemAvailable)", what, bytesString(n.Memory), bytesString(m.MemAvailable))
	}
	if m.AS > 0 && n.Memory > m.AS {
		return fmt.Errorf("scenario: %s needs about %s of memory, more than RLIMIT_AS (%s)", what, bytesString(n.Memory), bytesString(m.AS))
	}
	if m.NProc > 0 && n.Threads > m.NProc {
		return fmt.Errorf("scenario: %d workers need about %d processes and threads, more than RLIMIT_NPROC (%d)", s.Workers, n.Threads, m.NProc)
	}
	if m.NoFile > 0 && n.Files > m.NoFile {
		return fmt.Errorf("scenario: %d workers need about %d descriptors, more than RLIMIT_NOFILE (%d)", s.Workers, n.Files, m.NoFile)
	}
	return nil
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
