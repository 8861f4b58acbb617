package pools

import "context"

// ActionUsed reports whether a trigger has named action name in this
// process (resolved for a task, an Interrupt or RunAction).
func ActionUsed(name string) bool {
	id, err := actionID(name)
	if err != nil {
		return false
	}
	a, _ := actionByID(id)
	return a.used.Load()
}

// MapSubmitter is the submit failfast's Map calls for each job of a map
// of n jobs (failfast_retire.go), for a test that stalls between them.
func MapSubmitter(p Pool, n int) func(context.Context, Task) (*Future, error) {
	return p.(*failFast).mapSubmit(n)
}
