package scenarios

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// The recovery row asks what a program can do with a pool after a fault:
// the standard cell segfault@task-run (a map of 6 jobs on 2 workers, job
// 2's worker killed by SIGSEGV), then, on the same pool, a second map of
// 6 fault-free jobs. Where the pool is a pools.Reuser (loky's reusable
// executor) the program first asks for it again, as loky's users do with
// get_reusable_executor(); elsewhere it just maps again.
const (
	RecoveryFault = "segfault@task-run:2"
	recoveryKind  = "segfault"
)

// A RecoveryCell is one pool's recovery row: how the first map and the
// second one ended.
type RecoveryCell struct {
	Pool string `json:"pool"`
	// First and Second are each map's verdict, with the error kinds of a
	// raised one: "raised (broken-pool)".
	First  string `json:"first,omitempty"`
	Reused bool   `json:"reused,omitempty"` // asked for again (get_reusable_executor)
	Second string `json:"second,omitempty"`
	// NA says why the row has no second map for this pool.
	NA string `json:"na,omitempty"`
}

// RunRecovery runs the recovery row for every strategy whose first map is
// answered; a pool whose first map hangs (its segfault@task-run cell is
// a hang) has nothing to recover with.
func RunRecovery(ctx context.Context) ([]RecoveryCell, error) {
	var out []RecoveryCell
	for _, s := range pools.Strategies() {
		c, err := recover1(ctx, s)
		if err != nil {
			return out, fmt.Errorf("recovery row, %s: %w", s, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func recover1(ctx context.Context, s pools.Strategy) (RecoveryCell, error) {
	c := RecoveryCell{Pool: string(s)}
	e, err := Expect(Cell{Pool: s, Kind: recoveryKind, Phase: faults.TaskRun})
	if err != nil {
		return c, err
	}
	if e.Verdict == Hang {
		c.NA = "the first map hangs (its " + recoveryKind + "@" + string(faults.TaskRun) + " cell): nothing answers it, and nothing can be asked of the pool after it"
		return c, nil
	}
	o := pools.Options{Workers: 2, LostWorkerTimeout: modelGrace(s)}
	if s.Supports(pools.OptionTaskTimeout) {
		o.TaskTimeout = StandardDeadline
	}
	p, err := pools.Start(s, o)
	if err != nil {
		return c, err
	}
	defer p.Terminate()
	// The backstop only bounds a run whose expectation says it is
	// answered; a map still out at it is an error, not a verdict.
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	k, err := faults.Lookup(recoveryKind)
	if err != nil {
		return c, err
	}
	first := recoveryTasks()
	first[2].Triggers = append(first[2].Triggers, k.Trigger(faults.TaskRun))
	rs, err := p.Map(ctx, first)
	if err != nil {
		return c, fmt.Errorf("first map: %w", err)
	}
	c.First = mapVerdict(rs)
	if r, ok := p.(pools.Reuser); ok {
		if err := r.Reuse(ctx); err != nil {
			return c, fmt.Errorf("reuse: %w", err)
		}
		c.Reused = true
	}
	rs, err = p.Map(ctx, recoveryTasks())
	if err != nil {
		return c, fmt.Errorf("second map: %w", err)
	}
	c.Second = mapVerdict(rs)
	return c, nil
}

func recoveryTasks() []pools.Task {
	ts := make([]pools.Task, 6)
	for i := range ts {
		ts[i] = pools.Square(int64(i))
	}
	return ts
}

// mapVerdict is completed if every job has its value square(i), else
// raised with the error kinds in job order.
func mapVerdict(rs []pools.Result) string {
	var kinds []string
	for i, r := range rs {
		k := ""
		if errors.Is(r.Err, pools.ErrMapCancelled) || errors.Is(r.Err, pools.ErrNotDelivered) {
			// The map raised at an earlier job (Executor.map's
			// result_iterator): this one was never delivered.
			continue
		}
		if r.Err != nil {
			k = Classify(r.Err)
		} else if v, err := pools.Int(r.Value); err != nil || v != int64(i*i) {
			k = ErrKindWrongValue
		}
		if k != "" && !contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return string(Completed)
	}
	return fmt.Sprintf("%s (%s)", Raised, strings.Join(kinds, ", "))
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// recoveryMarkdown is the recovery row's section of matrix.md.
func recoveryMarkdown(b *strings.Builder, cells []RecoveryCell) {
	if len(cells) == 0 {
		return
	}
	b.WriteString("\n## Recovery: the next map after a fault\n\n")
	fmt.Fprintf(b, "The standard cell `%s` (a map of 6 jobs on 2 workers), then a second map of 6 fault-free jobs on the\n"+
		"same pool. loky's pool is first asked for again, as its users do with `get_reusable_executor()`: a broken\n"+
		"executor is shut down and a fresh one takes its place (`_ReusablePoolExecutor.get_reusable_executor`); a\n"+
		"submit on the broken executor itself raises, as ProcessPoolExecutor's does. Generated with the matrix\n"+
		"(`scenarios.RunRecovery`); `TestRecoveryRowOnRealPools` checks loky's and ProcessPoolExecutor's rows on\n"+
		"the real pools.\n\n", RecoveryFault)
	b.WriteString("| pool | first map | asked for again | second map |\n|---|---|---|---|\n")
	for _, c := range cells {
		if c.NA != "" {
			fmt.Fprintf(b, "| %s | n/a: %s | | |\n", c.Pool, c.NA)
			continue
		}
		again := "no"
		if c.Reused {
			again = "yes (get_reusable_executor)"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", c.Pool, c.First, again, c.Second)
	}
}
