package pools

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/poolhang/poolhang/pools/internal/frame"
)

// The frame codec is pools/internal/frame; what it carries is given a
// meaning here: triggers fire at their Points, and a result's status
// becomes the error of the pool's vocabulary.

// ErrAllocation is the parent reader's MemoryError: it could not allocate a
// frame body.
var ErrAllocation = frame.ErrAllocation

// ErrCorruptFrame is returned by a reader whose frame header cannot be
// right: the stream is out of step.
var ErrCorruptFrame = frame.ErrCorrupt

// ErrFrameTooLarge is returned by an encoder whose frame would not fit
// the 4-byte length.
var ErrFrameTooLarge = frame.ErrTooLarge

// ErrTornFrame is returned by a reader that met the end of a stream inside a
// frame.
var ErrTornFrame = frame.ErrTorn

const (
	jobSentinel = frame.JobSentinel
	jobExiting  = frame.JobExiting
	jobAck      = frame.JobAck
)

type (
	// trig is a Trigger resolved to its registry id, as it travels in
	// frames, with the job it rides in (-1 until the job is known); At
	// holds a Point.
	trig = frame.Trigger
	// wireTask is one call as it travels.
	wireTask = frame.Call
	// wireResult is a task's outcome as it travels from a worker.
	wireResult = frame.Result
)

// sentinel is the frame that says "no more tasks".
func sentinel() []byte { return frame.Append(nil, jobSentinel, trig{}, nil) }

// encodeTask encodes a task of one call (apply_async).
func encodeTask(job int, t wireTask) ([]byte, error) {
	return encodeChunk(job, []wireTask{t})
}

// encodeChunk runs the task-encode triggers, then encodes one task frame
// holding every call of a map chunk. It follows pickling in the parent:
// the first call that fails to encode fails the whole task, and the error
// is the caller's to handle.
func encodeChunk(job int, calls []wireTask) ([]byte, error) {
	if err := frame.CheckCalls(len(calls)); err != nil {
		return nil, err
	}
	for _, c := range calls {
		if err := fire(c.Trigs, PointTaskEncode, job, false, nil); err != nil {
			return nil, err
		}
	}
	return frame.EncodeTask(job, calls)
}

// decodeTask decodes a task body into its calls; each call's task-decode
// triggers act midway, once its triggers are read.
func decodeTask(job int, body []byte, worker bool, await func(Point, int)) ([]wireTask, error) {
	return frame.DecodeTask(body, func(k int, ts []trig) error {
		return fire(ts, PointTaskDecode, job+k, worker, await)
	})
}

// resultErr is the error a result's status says.
func resultErr(r wireResult) error {
	switch r.Status {
	case frame.StatusOK:
		return nil
	case frame.StatusTaskError:
		return &TaskError{Msg: string(r.Value)}
	case frame.StatusExitRequest:
		code, _ := strconv.Atoi(string(r.Value))
		return &ExitRequest{Code: code}
	case frame.StatusEncodeError:
		return &EncodeError{What: "result", Err: &TaskError{Msg: string(r.Value)}}
	}
	return fmt.Errorf("unknown result status %d", r.Status)
}

// resultOf is a task's outcome: the values of its calls, or the error
// that ended it.
func resultOf(values [][]byte, err error, trigs []trig) wireResult {
	var x *ExitRequest
	var ee *EncodeError
	switch {
	case err == nil:
		r := wireResult{Status: frame.StatusOK, Values: values, Trigs: trigs}
		if len(values) > 0 {
			r.Value = values[0]
		}
		return r
	case errors.As(err, &x):
		return wireResult{Status: frame.StatusExitRequest, Value: []byte(strconv.Itoa(x.Code)), Trigs: trigs}
	case errors.As(err, &ee):
		return wireResult{Status: frame.StatusEncodeError, Value: []byte(ee.Err.Error()), Trigs: trigs}
	}
	return wireResult{Status: frame.StatusTaskError, Value: []byte(err.Error()), Trigs: trigs}
}

// encodeResult runs the result-encode triggers and encodes the frame; a
// result-alloc trigger rides in its envelope.
func encodeResult(job int, r wireResult, await func(Point, int)) ([]byte, error) {
	if err := fire(r.Trigs, PointResultEncode, job, true, await); err != nil {
		return nil, err
	}
	alloc := trig{Job: -1}
	for _, t := range r.Trigs {
		if Point(t.At) == PointResultAlloc {
			alloc = t
		}
	}
	return frame.EncodeResult(job, r, alloc)
}

// decodeResult decodes a result body in the parent; result-decode triggers
// act midway, like an object whose unpickling raises.
func decodeResult(job int, body []byte) (wireResult, error) {
	return frame.DecodeResult(body, func(ts []trig) error {
		return fire(ts, PointResultDecode, job, false, nil)
	})
}

// fireAlloc is the parent reader's hook between a result frame's header
// and its body: the envelope's result-alloc trigger acts.
func fireAlloc(job int, t trig) error {
	if t.ID == 0 {
		return nil
	}
	return fire([]trig{t}, PointResultAlloc, job, false, nil)
}
