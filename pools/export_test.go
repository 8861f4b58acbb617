package pools

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
