package scenarios

import "github.com/poolhang/poolhang/faults"

// valueOf is the value job returns when a fault replaces it (big-result),
// and whether one does.
func (sc Scenario) valueOf(job int) ([]byte, bool) {
	for _, f := range sc.Faults {
		if f.Job != job {
			continue
		}
		if k, err := faults.Lookup(f.Kind); err == nil && k.Value != nil {
			return k.Value(job), true
		}
	}
	return nil, false
}
