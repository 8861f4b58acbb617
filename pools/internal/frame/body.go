package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A Call is one call of a task as it travels: its triggers first, so that
// a decode-time trigger acts in the middle of decoding, before the
// function is known.
type Call struct {
	Trigs []Trigger
	Fn    string
	Arg   []byte
}

// MaxChunk bounds the calls of one task frame.
const MaxChunk = 1<<16 - 1

// CheckCalls refuses a task of n calls that a task frame cannot hold.
func CheckCalls(n int) error {
	if n == 0 || n > MaxChunk {
		return fmt.Errorf("pools: a task holds 1 to %d calls, not %d", MaxChunk, n)
	}
	return nil
}

// EncodeTask encodes one task frame holding calls, for jobs job, job+1, ...
// (pickling Pool.map's (job, i, mapstar, ((func, chunk),), {}): one task,
// its calls in a tuple; apply_async's task is a chunk of one).
func EncodeTask(job int, calls []Call) ([]byte, error) {
	if err := CheckCalls(len(calls)); err != nil {
		return nil, err
	}
	// Checked before anything is copied: a body this large is refused,
	// not built.
	size := 2
	for _, c := range calls {
		size += triggersLen(c.Trigs) + 4 + len(c.Fn) + 4 + len(c.Arg)
	}
	if err := CheckLen(size); err != nil {
		return nil, fmt.Errorf("job %d: %w", job, err)
	}
	var e enc
	e.u16(uint16(len(calls)))
	for _, c := range calls {
		e.triggers(c.Trigs)
		e.bytes([]byte(c.Fn))
		e.bytes(c.Arg)
	}
	return Append(nil, job, Trigger{}, e.b), nil
}

// DecodeTask decodes a task body into its calls. each, if not nil, runs
// for call k once its triggers are read and before its function is; an
// error from it ends the decoding with the calls decoded so far.
func DecodeTask(body []byte, each func(k int, trigs []Trigger) error) ([]Call, error) {
	d := dec{b: body}
	n := int(d.u16())
	if d.err == nil && n == 0 {
		return nil, errors.New("corrupt task: no calls")
	}
	calls := make([]Call, 0, min(n, 64))
	for k := 0; k < n && d.err == nil; k++ {
		c := Call{Trigs: d.triggers()}
		if d.err != nil {
			break
		}
		if each != nil {
			if err := each(k, c.Trigs); err != nil {
				return calls, err
			}
		}
		c.Fn = string(d.bytes())
		c.Arg = d.bytes()
		calls = append(calls, c)
	}
	return calls, d.err
}

// Result status bytes.
const (
	StatusOK = iota
	StatusTaskError
	StatusExitRequest
	StatusEncodeError
)

// A Result is a task's outcome as it travels from a worker.
type Result struct {
	Status uint8
	// Values holds, for StatusOK, one value per call of the task; Value
	// is the first (the only one of an apply_async task), or the error
	// message, or the exit code.
	Values [][]byte
	Value  []byte
	Trigs  []Trigger // result-side triggers carried over from the task
	// ExitPID, if not 0, says that the worker (this pid) exits after this
	// result: 3.11's _ResultItem.exit_pid, sent with a worker's last task
	// under max_tasks_per_child. It travels after the values, only if set.
	ExitPID uint32
}

// EncodeResult encodes a result frame whose envelope carries alloc.
func EncodeResult(job int, r Result, alloc Trigger) ([]byte, error) {
	vals := r.Values
	if r.Status != StatusOK || vals == nil {
		vals = [][]byte{r.Value}
	}
	size := triggersLen(r.Trigs) + 1 + 4
	for _, v := range vals {
		size += 4 + len(v)
	}
	if r.ExitPID != 0 {
		size += 4
	}
	if err := CheckLen(size); err != nil {
		return nil, err
	}
	var e enc
	e.triggers(r.Trigs)
	e.u8(r.Status)
	e.u32(uint32(len(vals)))
	for _, v := range vals {
		e.bytes(v)
	}
	if r.ExitPID != 0 {
		e.u32(r.ExitPID)
	}
	return Append(nil, job, alloc, e.b), nil
}

// DecodeResult decodes a result body. trigs, if not nil, runs once the
// result's triggers are read and before the rest is, like an object whose
// unpickling raises; an error from it ends the decoding.
func DecodeResult(body []byte, trigs func([]Trigger) error) (Result, error) {
	d := dec{b: body}
	r := Result{Trigs: d.triggers()}
	if d.err != nil {
		return r, d.err
	}
	if trigs != nil {
		if err := trigs(r.Trigs); err != nil {
			return r, err
		}
	}
	r.Status = d.u8()
	n := int(d.u32())
	for k := 0; k < n && d.err == nil; k++ {
		r.Values = append(r.Values, d.bytes())
	}
	if len(r.Values) > 0 {
		r.Value = r.Values[0]
	}
	if d.err == nil && len(d.b) == 4 {
		r.ExitPID = d.u32()
	}
	return r, d.err
}

func triggersLen(ts []Trigger) int { return 1 + len(ts)*triggerSize }

// enc/dec are a minimal little-endian codec for frame bodies.
type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) bytes(v []byte) {
	e.b = binary.LittleEndian.AppendUint32(e.b, uint32(len(v)))
	e.b = append(e.b, v...)
}
func (e *enc) triggers(ts []Trigger) {
	e.u8(uint8(len(ts)))
	for _, t := range ts {
		e.b = appendTrigger(e.b, t)
	}
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) need(n int) bool {
	if d.err != nil {
		return false
	}
	if len(d.b) < n {
		d.err = errors.New("corrupt frame body: truncated")
		return false
	}
	return true
}

// take returns the next n bytes, or nil once the body is short.
func (d *dec) take(n int) []byte {
	if !d.need(n) {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}
func (d *dec) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}
func (d *dec) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}
func (d *dec) bytes() []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	return d.take(int(n))
}
func (d *dec) triggers() []Trigger {
	n := int(d.u8())
	if n == 0 || d.err != nil {
		return nil
	}
	ts := make([]Trigger, 0, n)
	for i := 0; i < n; i++ {
		b := d.take(triggerSize)
		if b == nil {
			break
		}
		ts = append(ts, trigger(b))
	}
	return ts
}
