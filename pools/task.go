package pools

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"
)

// A Task is a call of a function registered by name, with its argument
// encoded as bytes, and the triggers it carries.
type Task struct {
	Func     string
	Arg      []byte
	Triggers []Trigger
	// Idempotent declares the task safe to run again: Tracked retries it
	// on another worker (Options.Retries) if its worker dies holding it.
	Idempotent bool
	// callback is apply_async's callback (see [Task.WithCallback]).
	callback Callback
	// it is the imap the task is an item of (tracked's IMap).
	it *IMapIterator
}

// Result is a job's outcome as the caller sees it.
type Result struct {
	Value []byte
	Err   error
}

// A TaskFunc is the body of a task. Its error may be an [*ExitRequest].
type TaskFunc func(arg []byte) ([]byte, error)

var taskFuncs = map[string]TaskFunc{
	"square": func(arg []byte) ([]byte, error) {
		if len(arg) != 8 {
			return nil, fmt.Errorf("square: want an 8-byte integer, got %d bytes", len(arg))
		}
		n := int64(binary.LittleEndian.Uint64(arg))
		return binary.LittleEndian.AppendUint64(nil, uint64(n*n)), nil
	},
	"echo": func(arg []byte) ([]byte, error) { return arg, nil },
	"sleep": func(arg []byte) ([]byte, error) {
		if len(arg) != 8 {
			return nil, errors.New("sleep: want an 8-byte duration")
		}
		time.Sleep(time.Duration(binary.LittleEndian.Uint64(arg)))
		return nil, nil
	},
	"fail": func(arg []byte) ([]byte, error) { return nil, errors.New(string(arg)) },
}

// TaskFuncs lists the registered task functions.
func TaskFuncs() []string {
	names := make([]string, 0, len(taskFuncs))
	for n := range taskFuncs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Square returns the task n*n; its value decodes with [Int].
func Square(n int64) Task {
	return Task{Func: "square", Arg: binary.LittleEndian.AppendUint64(nil, uint64(n))}
}

// Echo returns a task whose value is a payload of size bytes, sent to the
// worker and back.
func Echo(size int) Task { return Task{Func: "echo", Arg: Payload(size)} }

// Payload is the deterministic payload of [Echo](size).
func Payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// Sleep returns a task that sleeps for d and returns nothing.
func Sleep(d time.Duration) Task {
	return Task{Func: "sleep", Arg: binary.LittleEndian.AppendUint64(nil, uint64(d))}
}

// Fail returns a task that returns an ordinary error with message msg.
func Fail(msg string) Task { return Task{Func: "fail", Arg: []byte(msg)} }

// Int decodes the value of a [Square] task.
func Int(v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("want an 8-byte integer, got %d bytes", len(v))
	}
	return int64(binary.LittleEndian.Uint64(v)), nil
}

// run calls the task's function; task-run triggers act inside the call.
func runCall(t wireTask, job int, await func(Point, int)) ([]byte, error) {
	if err := fire(t.Trigs, PointTaskRun, job, true, await); err != nil {
		var rv *Returned
		if errors.As(err, &rv) {
			return rv.Value, nil // the function returned early, with this value
		}
		return nil, err
	}
	f, ok := taskFuncs[t.Fn]
	if !ok {
		return nil, fmt.Errorf("unknown task function %q (registered: %v)", t.Fn, TaskFuncs())
	}
	return f(t.Arg)
}

// Returned is what a task-run action returns to make the task function
// return Value instead of running its body: the task's own code producing
// a different result, as a function that returns a large object does.
// At any other point it is an ordinary error.
type Returned struct{ Value []byte }

func (r *Returned) Error() string {
	return fmt.Sprintf("returned %d bytes outside a task function", len(r.Value))
}
