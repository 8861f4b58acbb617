package scenarios

import (
	"fmt"
	"strings"

	"github.com/poolhang/poolhang/pools"
)

// diagnoseHang tells a proven hang the way the seed's author found it with
// gdb, lsof and ps: why it cannot end, who is blocked on what, and which
// workers are zombies.
func diagnoseHang(s pools.Snapshot, pr Proof) ([]Cause, string) {
	cs, lines := causes(s, pr)
	stuck := map[string]bool{}
	for _, id := range pr.Stuck {
		stuck[id] = true
	}
	for _, p := range s.Parties {
		if !stuck[p.ID] {
			continue
		}
		line := fmt.Sprintf("the %s is %s", p.ID, p.State)
		if p.Worker {
			line = fmt.Sprintf("%s is %s", p.ID, p.State)
		}
		if p.Wait != nil && p.Wait.Detail != "" {
			line += " (" + p.Wait.Detail + ")"
		}
		lines = append(lines, line)
	}
	if z := zombies(s); len(z) > 0 {
		lines = append(lines, fmt.Sprintf("%s %s exited and %s", plural(len(z), "worker", "workers"), joinInts(z), plural(len(z), "is a zombie", "are zombies")))
	}
	return cs, "hang: " + strings.Join(lines, "; ")
}

// diagnoseAnswer tells how the caller was answered.
func diagnoseAnswer(o Outcome, s pools.Snapshot) string {
	ok, _, unres := o.Count()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s ok", o.Verdict, ok, plural(ok, "job", "jobs"))
	byKind := map[string][]int{}
	var kinds []string
	for _, j := range o.Jobs {
		if j.State == JobError {
			if _, seen := byKind[j.Kind]; !seen {
				kinds = append(kinds, j.Kind)
			}
			byKind[j.Kind] = append(byKind[j.Kind], j.Job)
		}
	}
	for _, k := range kinds {
		jobs := byKind[k]
		first := ""
		for _, j := range o.Jobs {
			if j.Job == jobs[0] {
				first = j.Error
			}
		}
		fmt.Fprintf(&b, "; %s %s failed with %s (%s)", plural(len(jobs), "job", "jobs"), joinInts(jobs), k, first)
	}
	if unres > 0 {
		fmt.Fprintf(&b, "; %d unresolved", unres)
	}
	for _, w := range s.Parties {
		if w.Worker && w.Exit != nil && (w.Exit.Signal != 0 || w.Exit.Code != 0) {
			fmt.Fprintf(&b, "; worker %d %s", w.PID, w.Exit)
			if w.Job >= 0 {
				fmt.Fprintf(&b, " in %s", w.Phase)
			}
		}
	}
	if z := zombies(s); len(z) > 0 {
		fmt.Fprintf(&b, "; %s %s %s", plural(len(z), "worker", "workers"), joinInts(z), plural(len(z), "is a zombie", "are zombies"))
	}
	return b.String()
}

func zombies(s pools.Snapshot) []int {
	var z []int
	for _, p := range s.Parties {
		if p.Worker && p.Zombie {
			z = append(z, p.PID)
		}
	}
	return z
}
