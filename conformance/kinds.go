package conformance

import (
	"regexp"
	"slices"
	"strings"

	"github.com/poolhang/poolhang/realpools"
	"github.com/poolhang/poolhang/scenarios"
)

// RealKind maps a Python exception the caller received to the models'
// error kind (scenarios.ErrKind*). phase is where the fault that raised
// it struck, when known; it decides an InjectedError's kind, because the
// models name an error by where it arose (an encoding error is the
// fault's own exception, raised while pickling).
//
//	InjectedError at task-encode/result-encode, MaybeEncodingError,
//	PicklingError                               encode-error
//	InjectedError at callback, input            callback-error, input-error
//	InjectedError elsewhere                     task-error
//	SystemExit                                  exit-request
//	BrokenProcessPool (CPython's, loky's, and
//	loky's TerminatedWorkerError)               broken-pool
//	billiard's WorkerLostError (raised as
//	ExceptionWithTraceback), pebble's
//	ProcessExpired                              worker-lost
//	MemoryError                                 read-error
func RealKind(class, message, phase string) string {
	name := class[strings.LastIndex(class, ".")+1:]
	switch name {
	case "InjectedError":
		if phase == "" {
			phase = phaseIn(message)
		}
		switch phase {
		case "task-encode", "result-encode":
			return scenarios.ErrKindEncode
		case "callback":
			return scenarios.ErrKindCallback // the caller's own callback raised
		case "input":
			return scenarios.ErrKindInput // the caller's own input iterable raised
		}
		return scenarios.ErrKindTask
	case "MaybeEncodingError", "PicklingError":
		return scenarios.ErrKindEncode
	case "SystemExit":
		return scenarios.ErrKindExit
	case "BrokenProcessPool", "TerminatedWorkerError":
		return scenarios.ErrKindBroken
	case "WorkerLostError", "ProcessExpired":
		return scenarios.ErrKindWorkerLost
	case "ExceptionWithTraceback":
		if strings.Contains(message, "WorkerLostError") {
			return scenarios.ErrKindWorkerLost
		}
	case "MemoryError":
		return scenarios.ErrKindRead
	}
	return scenarios.ErrKindOther
}

// The driver's InjectedError says where it struck: "raise at PHASE of job N".
var injectedAt = regexp.MustCompile(`raise at ([a-z-]+) of job`)

func phaseIn(message string) string {
	if m := injectedAt.FindStringSubmatch(message); m != nil {
		return m[1]
	}
	return ""
}

// RealKinds lists the distinct kinds of the errors the caller received,
// sorted: each job's own error, and the error of the caller's one call
// (a map that raised before delivering every job).
func RealKinds(o realpools.Outcome) []string {
	set := map[string]bool{}
	for _, j := range o.Jobs {
		if j.Outcome == "error" {
			set[RealKind(j.Class, j.Message, "")] = true
		}
	}
	if o.CallError != nil {
		set[RealKind(o.CallError.Class, o.CallError.Message, "")] = true
	}
	return sortedSet(set)
}

// ModelKinds lists the distinct kinds of the model's failed jobs, sorted.
func ModelKinds(o scenarios.Outcome) []string {
	set := map[string]bool{}
	for _, k := range o.ErrorKinds() {
		set[k] = true
	}
	return sortedSet(set)
}

func sortedSet(set map[string]bool) []string {
	var out []string
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
