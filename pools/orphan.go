package pools

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/poolhang/poolhang/pools/internal/shm"
	"golang.org/x/sys/unix"
)

// An Orphan is a live worker whose parent is gone, as the subreaper it
// was reparented to sees it: from its slot in the region it still
// shares (through /proc/PID/fd/3), from /proc, and, like lsof, from who
// holds the other end of the pipe it blocks on.
type Orphan struct {
	PID   int
	PPID  int    // its parent now
	Proc  string // the kernel's state letter (S sleeping)
	WChan string // the kernel function it sleeps in
	Doing string // what its slot says it is doing
	Job   int64  // the job its slot says it holds, -1 none
	// Blocked says what it waits on, if its wait is a pipe or a lock;
	// "" if it can go on by itself (it runs, or is at a point).
	Blocked string
	// Releasers are the live pids that could end its wait: the holders
	// of the pipe's other end, the lock's holder. A dead lock holder is
	// listed too, and marked in Blocked.
	Releasers []int
	// Ready: its wait is satisfiable now (bytes in the pipe, room in it,
	// the lock free).
	Ready bool
}

// InspectOrphans reads each pid's state. It also returns the region's
// progress count, so that two inspections with the same count saw no
// transition in between; ok is false if no pid still shares a region.
func InspectOrphans(pids []int) (out []Orphan, progress uint32, ok bool) {
	var reg *shm.Region
	for _, pid := range pids {
		f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/%d", pid, fdRegion), os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if r, err := shm.Open(f); err == nil {
			reg = r
			defer reg.Close()
			break
		}
	}
	if reg == nil {
		return nil, 0, false
	}
	progress = reg.Progress().Load()
	ends := pipeEnds()
	for _, pid := range pids {
		o := Orphan{PID: pid, Job: -1, Proc: procField(pid, 0), PPID: atoi(procField(pid, 1)), WChan: wchan(pid, st0(reg, pid))}
		if o.Proc == "" || o.Proc == "Z" {
			continue // gone, or a zombie its subreaper has yet to reap
		}
		s, found := slotByPID(reg, pid)
		if !found {
			o.Doing, o.Ready = "not a worker of this pool", true
			out = append(out, o)
			continue
		}
		st := s.state()
		o.Doing, o.Job = st.String(), s.Job().Load()
		if p := Point(s.Point().Load() &^ uint32(pointHangs)); p != 0 {
			o.Doing = "stopped at " + p.String()
			o.Ready = true
			out = append(out, o)
			continue
		}
		i, waiting := s.waitingLock()
		switch {
		case waiting:
			h := reg.Lock(i).Holder()
			o.Ready = h == 0 || h == pid
			o.Blocked = fmt.Sprintf("futex: the %s, held by pid %d", lockNames[i], h)
			if h != 0 {
				o.Releasers = []int{h}
				if procField(h, 0) == "" {
					o.Blocked += " (dead)"
				}
			}
		case st == wReadTask:
			ino, n, _ := pipeAt(pid, fdTasks)
			o.Blocked = fmt.Sprintf("read on descriptor %d, pipe:[%d] (%d bytes buffered)", fdTasks, ino, n)
			o.Releasers, o.Ready = ends.holders(ino, unix.O_WRONLY, pid), n > 0
		case st == wWriteResult:
			ino, n, room := pipeAt(pid, fdResults)
			o.Blocked = fmt.Sprintf("write on descriptor %d, pipe:[%d] (%d bytes buffered)", fdResults, ino, n)
			o.Releasers, o.Ready = ends.holders(ino, unix.O_RDONLY, pid), room
		default:
			o.Ready = true // it runs its own code: nothing outside holds it
		}
		out = append(out, o)
	}
	return out, progress, true
}

// st0 is pid's slot state, for wchan.
func st0(reg *shm.Region, pid int) wstate {
	if s, ok := slotByPID(reg, pid); ok {
		return s.state()
	}
	return wStarting
}

// wchan is the kernel function pid sleeps in, from the thread that
// blocks as its slot says: a Go worker's goroutine can block on any of
// its threads, and the others sleep in the runtime's futex.
func wchan(pid int, st wstate) string {
	want := ""
	switch st {
	case wReadTask:
		want = "pipe_read"
	case wWriteResult:
		want = "pipe_write"
	}
	main := readTrim(fmt.Sprintf("/proc/%d/wchan", pid))
	if want == "" || strings.Contains(main, want) {
		return main
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		if w := readTrim(fmt.Sprintf("/proc/%d/task/%s/wchan", pid, t.Name())); strings.Contains(w, want) {
			return w
		}
	}
	return main
}

func slotByPID(reg *shm.Region, pid int) (slot, bool) {
	for i := range shm.MaxSlots {
		if s := slotOf(reg, i); int(s.PID().Load()) == pid {
			return s, true
		}
	}
	return slot{}, false
}

// pipeAt is the inode of pid's descriptor fd (a pipe), the bytes
// buffered in it (FIONREAD) and whether a write of a page would fit.
func pipeAt(pid, fd int) (ino uint64, buffered int, room bool) {
	path := fmt.Sprintf("/proc/%d/fd/%d", pid, fd)
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return 0, 0, true
	}
	// Opening the pipe through /proc reopens it like a FIFO; for reading,
	// without blocking, it adds no writer.
	rfd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return st.Ino, 0, true
	}
	defer unix.Close(rfd)
	n, _ := unix.IoctlGetInt(rfd, unix.TIOCINQ)
	capacity, err := unix.FcntlInt(uintptr(rfd), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		capacity = 65536
	}
	return st.Ino, n, n+os.Getpagesize() <= capacity
}

// endsTable maps a pipe inode to the pids holding it open, by access mode.
type endsTable map[uint64]map[int][]int // inode -> access mode -> pids

// pipeEnds reads the open pipes of this process's descendants from
// /proc, as lsof does. Only they can hold the ends: the pipes were made
// by the orphans' dead parent, whose descendants are now ours (we are
// their subreaper), and a descriptor passes only to a child.
func pipeEnds() endsTable {
	t := endsTable{}
	for _, pid := range descendants(os.Getpid()) {
		dir := fmt.Sprintf("/proc/%d", pid)
		fds, _ := os.ReadDir(dir + "/fd")
		for _, fd := range fds {
			link, err := os.Readlink(dir + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(link, "pipe:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "pipe:["), "]"), 10, 64)
			if err != nil {
				continue
			}
			mode := fdMode(dir + "/fdinfo/" + fd.Name())
			if t[ino] == nil {
				t[ino] = map[int][]int{}
			}
			t[ino][mode] = appendOnce(t[ino][mode], pid)
		}
	}
	return t
}

// holders lists the pids holding ino open with access mode (or read and
// write), other than self.
func (t endsTable) holders(ino uint64, mode, self int) []int {
	var out []int
	for m, pids := range t[ino] {
		if m != mode && m != unix.O_RDWR {
			continue
		}
		for _, p := range pids {
			if p != self {
				out = appendOnce(out, p)
			}
		}
	}
	return out
}

// descendants lists the processes below root, from every process's
// parent in /proc/PID/stat.
func descendants(root int) []int {
	kids := map[int][]int{}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		pid := atoi(filepath.Base(dir))
		if pp := atoi(procField(pid, 1)); pp > 0 {
			kids[pp] = append(kids[pp], pid)
		}
	}
	var out []int
	for q := kids[root]; len(q) > 0; q = q[1:] {
		out = append(out, q[0])
		q = append(q, kids[q[0]]...)
	}
	return out
}

func fdMode(fdinfo string) int {
	b, err := os.ReadFile(fdinfo)
	if err != nil {
		return -1
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("flags:")); ok {
			f, err := strconv.ParseInt(strings.TrimSpace(string(v)), 8, 64)
			if err == nil {
				return int(f) & unix.O_ACCMODE
			}
		}
	}
	return -1
}

func appendOnce(xs []int, x int) []int {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// procField is field i after the command in /proc/PID/stat: 0 the state
// letter, 1 the parent pid; "" if the process is gone.
func procField(pid, i int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	j := bytes.LastIndexByte(b, ')')
	if j < 0 {
		return ""
	}
	f := strings.Fields(string(b[j+1:]))
	if i >= len(f) {
		return ""
	}
	return f[i]
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
