package scenarios

// Smaller lists the one-step reductions of sc, most reducing first: each
// fault dropped, the payload cut, each fault moved to an earlier job,
// one job fewer, one worker fewer, each pool option dropped, and each
// wait style listed before sc's. A shrinker (the hang search's, the
// conformance search's) takes the first that still shows what it looks
// for, until none does. Some are not valid scenarios: the caller
// validates.
func (sc Scenario) Smaller() []Scenario {
	var out []Scenario
	for i := range sc.Faults {
		c := sc
		c.Faults = append(append([]Fault(nil), sc.Faults[:i]...), sc.Faults[i+1:]...)
		out = append(out, c)
	}
	if sc.Payload > 0 {
		c := sc
		c.Payload = 0
		out = append(out, c)
		if sc.Payload > 100<<10 {
			c.Payload = 100 << 10
			out = append(out, c)
		}
	}
	for i, f := range sc.Faults {
		if f.Job > 0 {
			c := sc
			c.Faults = append([]Fault(nil), sc.Faults...)
			c.Faults[i].Job = 0
			out = append(out, c)
			c.Faults = append([]Fault(nil), sc.Faults...)
			c.Faults[i].Job--
			out = append(out, c)
		}
	}
	if sc.Jobs > 0 {
		c := sc
		c.Jobs--
		out = append(out, c)
	}
	if sc.Workers > 1 {
		c := sc
		c.Workers--
		out = append(out, c)
	}
	out = append(out, sc.WithoutOptions()...)
	for _, w := range WaitStyles() {
		if w == sc.Wait {
			break
		}
		c := sc
		c.Wait = w
		out = append(out, c)
	}
	return out
}

// WithoutOptions lists sc with each pool option it sets (maxtasks=,
// initializer=, chunksize=) dropped.
func (sc Scenario) WithoutOptions() []Scenario {
	var out []Scenario
	if sc.MaxTasks > 0 {
		c := sc
		c.MaxTasks = 0
		out = append(out, c)
	}
	if sc.Initializer != "" {
		c := sc
		c.Initializer = ""
		out = append(out, c)
	}
	if sc.ChunkSize > 0 {
		c := sc
		c.ChunkSize = 0
		out = append(out, c)
	}
	return out
}
