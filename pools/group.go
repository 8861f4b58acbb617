package pools

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	process "github.com/poolhang/poolhang/pools/internal/proc"
	"golang.org/x/sys/unix"
)

// procGroup keeps a pool's workers in one process group of their own, so
// that one kill(-pgid) reaches every live worker at once, as a terminal's
// Ctrl-C reaches its foreground job, and never the harness. The first
// worker leads the group; a worker that starts once every member is gone
// (and the group with it) leads a new one.
type procGroup struct {
	mu      sync.Mutex
	pgid    int
	members []*process.Process
}

func (g *procGroup) start(exe string, args, env []string, files []*os.File, orphanable bool) (*process.Process, error) {
	start := process.Start
	if orphanable {
		start = process.StartOrphanable
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.memberLocked(false) != nil {
		p, err := start(exe, args, env, files, g.pgid)
		if err == nil {
			g.members = append(g.members, p)
			return p, nil
		}
		// The group ended meanwhile (setpgid: EPERM): lead a new one.
		if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ESRCH) {
			return nil, err
		}
	}
	p, err := start(exe, args, env, files, 0)
	if err != nil {
		return nil, err
	}
	g.pgid, g.members = p.PID, []*process.Process{p}
	return p, nil
}

// memberLocked returns a worker of this pool still in the group: one not
// reaped (so its pid is still its own, and the group lives), or with live
// set one not even dead, which nothing can reap before it dies. A group id
// is never reused while the group has a member, so the group it names is
// this pool's.
func (g *procGroup) memberLocked(live bool) *process.Process {
	kept := g.members[:0]
	var out *process.Process
	for _, p := range g.members {
		_, dead, reaped := p.State()
		if reaped {
			continue
		}
		kept = append(kept, p)
		if out == nil && (!live || !dead) {
			if pg, err := unix.Getpgid(p.PID); err == nil && pg == g.pgid {
				out = p
			}
		}
	}
	g.members = kept
	return out
}

// SignalGroup sends sig to the pool's process group, while a live worker
// of this pool is in it.
func (c *core) SignalGroup(sig syscall.Signal) error {
	g := &c.group
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.memberLocked(true) == nil {
		return fmt.Errorf("pools: no live worker is left in the pool's process group")
	}
	return unix.Kill(-g.pgid, sig)
}
