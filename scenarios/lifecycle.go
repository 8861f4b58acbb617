package scenarios

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
)

// keyList names every key of the text form, for errors.
const keyList = "pool, workers, jobs, payload, chunksize, maxtasks, initializer, deadline, start, wait, fault"

// MaxMaxTasks bounds maxtasks=.
const MaxMaxTasks = MaxJobs

// InitRaise is initializer=raise: the pool's initializer raises in every
// worker it starts.
const InitRaise = "raise"

// Initializers lists what initializer= takes.
func Initializers() []string { return []string{InitRaise} }

func parseMaxTasks(val string) (int, error) {
	n, err := parseInt("maxtasks", val)
	if err != nil {
		return 0, err
	}
	if n < 1 || n > MaxMaxTasks {
		return 0, fmt.Errorf("maxtasks=%d, allowed 1 to %d (tasks a worker runs before it retires; leave it out for no limit)", n, MaxMaxTasks)
	}
	return n, nil
}

func parseInitializer(val string) (string, error) {
	for _, v := range Initializers() {
		if v == val {
			return v, nil
		}
	}
	return "", fmt.Errorf("initializer=%s: allowed %s (an initializer that raises in every worker; leave it out for none)", short(val), strings.Join(Initializers(), ", "))
}

func (s Scenario) lifecycleString(b *strings.Builder) {
	if s.MaxTasks > 0 {
		b.WriteString(" maxtasks=" + strconv.Itoa(s.MaxTasks))
	}
	if s.Initializer != "" {
		b.WriteString(" initializer=" + s.Initializer)
	}
}

// realLifecycle says, for each real pool, the argument that realises
// maxtasks= and initializer= in it, or why it has none.
var realLifecycle = map[string]struct{ maxTasks, maxTasksNA, init string }{
	"py:mp.Pool":             {maxTasks: "Pool(maxtasksperchild=N)", init: "Pool(initializer=)"},
	"py:ProcessPoolExecutor": {maxTasks: "ProcessPoolExecutor(max_tasks_per_child=N), 3.11+", init: "ProcessPoolExecutor(initializer=)"},
	"py:billiard":            {maxTasks: "billiard.Pool(maxtasksperchild=N)", init: "billiard.Pool(initializer=)"},
	"py:loky":                {maxTasksNA: "loky's ProcessPoolExecutor takes no tasks-per-worker limit (loky 3.3: max_workers, job_reducers, result_reducers, timeout, context, initializer, initargs, env)", init: "loky ProcessPoolExecutor(initializer=)"},
	"py:pebble":              {maxTasks: "pebble.ProcessPool(max_tasks=N)", init: "pebble.ProcessPool(initializer=)"},
}

// MaxTasksNA says why pool p has no maxtasks=, or "" if it has. A
// model's reason is argued from the version it follows.
func MaxTasksNA(p pools.Strategy) string {
	if rl, ok := realLifecycle[string(p)]; ok {
		return rl.maxTasksNA
	}
	switch {
	case p == pools.Naive:
		return "Python 2.6's Pool has no maxtasksperchild (added in 2.7): its workers never retire"
	case p.Supports(pools.OptionMaxTasks):
		return ""
	case p == pools.Tracked:
		return "the tracked design does not retire workers: it replaces one only when it dies or misses its deadline"
	case p == pools.Loky:
		return realLifecycle["py:loky"].maxTasksNA
	}
	if _, err := pools.Lookup(p); err == nil {
		return "not modelled: the " + string(p) + " model takes no maxtasks option (see the real pool's column)"
	}
	return "unknown pool " + string(p)
}

// InitializerNA says why pool p has no initializer=, or "" if it has.
func InitializerNA(p pools.Strategy) string {
	if _, ok := realLifecycle[string(p)]; ok || p.Supports(pools.OptionInitializer) {
		return ""
	}
	if _, err := pools.Lookup(p); err == nil {
		return "not modelled: the " + string(p) + " model takes no initializer option (see the real pool's column)"
	}
	return "unknown pool " + string(p)
}

// validLifecycle checks maxtasks= and initializer= against the pool.
func (s Scenario) validLifecycle() error {
	if s.MaxTasks != 0 {
		if s.MaxTasks < 0 || s.MaxTasks > MaxMaxTasks {
			return fmt.Errorf("maxtasks=%d, allowed 1 to %d (leave it out for no limit)", s.MaxTasks, MaxMaxTasks)
		}
		if why := MaxTasksNA(s.Pool); why != "" {
			return fmt.Errorf("maxtasks=%d: %s has none: %s (pools that have it: %s)", s.MaxTasks, s.Pool, why, lifecyclePools(MaxTasksNA))
		}
	}
	if s.Initializer != "" {
		if _, err := parseInitializer(s.Initializer); err != nil {
			return err
		}
		if why := InitializerNA(s.Pool); why != "" {
			return fmt.Errorf("initializer=%s: %s has none: %s (pools that have it: %s)", s.Initializer, s.Pool, why, lifecyclePools(InitializerNA))
		}
		for _, f := range s.Faults {
			if f.Job < 0 {
				return fmt.Errorf("initializer=%s with fault=%s: no worker ever gets past its initializer to be idle, so an idle fault cannot strike", s.Initializer, f)
			}
		}
	}
	return nil
}

// lifecyclePools names the models and real pools for which na says "".
func lifecyclePools(na func(pools.Strategy) string) string {
	var names []string
	for _, p := range pools.Strategies() {
		if na(p) == "" {
			names = append(names, string(p))
		}
	}
	for _, rp := range realpools.Pools() {
		if na(pools.Strategy(rp.Name)) == "" {
			names = append(names, rp.Name)
		}
	}
	return strings.Join(names, ", ")
}

// lifecycleOptions are the pool options the scenario's lifecycle keys set.
func (s Scenario) lifecycleOptions(o *pools.Options) {
	o.MaxTasks = s.MaxTasks
	o.InitFails = s.Initializer == InitRaise
	o.LostWorkerTimeout = retireGrace(s, o.LostWorkerTimeout) // expect_billiard_maxtasks.go
}

// initFailuresLine tells, for a real run under initializer=raise, how
// its workers fared: with pids (poolhang run), how many started and how
// many died in the initializer; without (the committed results), only
// whether they all did, since how many a pool restarted before the stall
// limit is a race.
func initFailuresLine(o realpools.Outcome, counts bool) string {
	if o.WorkersStarted == 0 && o.InitFailures == 0 {
		return ""
	}
	every := o.InitFailures == o.WorkersStarted
	switch {
	case counts:
		return fmt.Sprintf("restarts: %d workers started, %d died in the initializer before taking a task", o.WorkersStarted, o.InitFailures)
	case every && o.WorkersStarted > 1 && o.Verdict == realpools.NoAnswer:
		return "restarts: the pool kept starting workers, and every one died in the initializer before taking a task"
	case every:
		return "every worker died in the initializer before taking a task"
	}
	return "some workers died in the initializer before taking a task"
}
