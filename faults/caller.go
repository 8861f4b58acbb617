package faults

// The caller's phases: code of the program that calls the pool, which
// the pool runs (a callback, on one of its threads) or reads (an imap's
// input iterable, in its task handler). No trigger rides in a task for
// them: the scenario's caller makes its own code raise at the targeted
// job, as a program's would. Only an ordinary error (raise) is modelled
// there; raise.go lists these phases.

// callerNotAt says why kind k cannot strike at a caller's phase, for the
// kinds that do not say so themselves.
func callerNotAt(k Kind, ph Phase) string {
	if ph != Callback && ph != Input {
		return ""
	}
	where := "the callback runs in the parent, on one of the pool's threads"
	if ph == Input {
		where = "the input iterable is read in the parent, by the pool's task handler"
	}
	switch k.Effect {
	case Dies:
		return where + ": a death there would end the harness, not a worker"
	case ExitRequest:
		return where + ": only an ordinary error (raise) is modelled there"
	case ReaderFails:
		return "the reader's allocation is no code of the caller's"
	case NeverReturns:
		return where + ": a callback or input that never returns is not modelled (only raise is)"
	}
	return where + ": only raise is modelled there"
}
