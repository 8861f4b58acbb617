package pools

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
)

// Every message on a pipe is a frame: a 4-byte length L, then an envelope
// (the 8-byte job id and one optional trigger, with its job, that acts when
// the reader allocates the body), then L-envelopeSize bytes of body. A frame is written
// with one write(2) but may be far larger than PIPE_BUF, so a writer that
// dies mid-frame leaves a torn frame, and a reader waits for the rest.
const (
	lenSize      = 4
	envelopeSize = 8 + 2 + 1 + 8 + 8
	headerLen    = lenSize + envelopeSize
	// maxBody is the largest body a reader will allocate; a larger length
	// fails like a failed allocation (it is how garbage in a pipe, as in
	// the seed's gdb session, becomes a MemoryError).
	maxBody = 1 << 30
	// maxFrameLen is what the 4-byte length can say: a larger frame is
	// refused when it is written, since its length would wrap.
	maxFrameLen = 1<<32 - 1
)

// Job ids with a meaning of their own.
const (
	jobSentinel = -1 // "no more tasks" (Python's None on a queue)
	jobExiting  = -2 // a fail-fast worker says it got its sentinel and exits
)

// Result status bytes.
const (
	stOK = iota
	stTaskError
	stExitRequest
	stEncodeError
)

// ErrAllocation is the parent reader's MemoryError: it could not allocate a
// frame body.
var ErrAllocation = errors.New("cannot allocate frame body (MemoryError)")

// ErrCorruptFrame is returned by a reader whose frame header cannot be
// right: the stream is out of step.
var ErrCorruptFrame = errors.New("corrupt frame")

// ErrFrameTooLarge is returned by an encoder whose frame would not fit
// the 4-byte length.
var ErrFrameTooLarge = errors.New("frame too large for its 4-byte length")

// ErrTornFrame is returned by a reader that met the end of a stream inside a
// frame.
var ErrTornFrame = errors.New("torn frame: the stream ended inside a frame")

type frame struct {
	job   int
	alloc trig // acts at PointResultAlloc; id 0 means none
	body  []byte
}

func appendFrame(dst []byte, job int, alloc trig, body []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(envelopeSize+len(body)))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(int64(job)))
	dst = binary.LittleEndian.AppendUint16(dst, alloc.id)
	dst = append(dst, byte(alloc.at))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(alloc.arg))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(alloc.job))
	return append(dst, body...)
}

// frameReader reads frames and counts the bytes of the frame in progress,
// so a snapshot can say "blocked with 15 of 31 bytes of a frame".
type frameReader struct {
	r    io.Reader
	have *atomic.Int64 // bytes of the current frame read so far
	need *atomic.Int64 // bytes the current frame needs, once its header is read; 0 before
	read *atomic.Int64 // the pipe's read counter
	bump func()
	hdr  [headerLen]byte
	max  int64 // the largest body it allocates; 0: maxBody
}

func newFrameReader(r io.Reader, have, need, read *atomic.Int64, bump func()) *frameReader {
	return &frameReader{r: r, have: have, need: need, read: read, bump: bump}
}

// next reads one frame. alloc, if not nil, runs after the header is read and
// before the body is allocated; an error from it leaves the body unread.
func (fr *frameReader) next(alloc func(job int, t trig) error) (frame, error) {
	fr.have.Store(0)
	fr.need.Store(0)
	fr.bump()
	if err := fr.full(fr.hdr[:]); err != nil {
		return frame{job: -1}, err
	}
	n := int64(binary.LittleEndian.Uint32(fr.hdr[:4]))
	f := frame{
		job: int(int64(binary.LittleEndian.Uint64(fr.hdr[4:12]))),
		alloc: trig{id: binary.LittleEndian.Uint16(fr.hdr[12:14]), at: Point(fr.hdr[14]),
			arg: int64(binary.LittleEndian.Uint64(fr.hdr[15:23])), job: int64(binary.LittleEndian.Uint64(fr.hdr[23:31]))},
	}
	if n < envelopeSize {
		return f, fmt.Errorf("%w: length %d shorter than its envelope", ErrCorruptFrame, n)
	}
	body := n - envelopeSize
	fr.need.Store(lenSize + n)
	fr.bump()
	limit := int64(maxBody)
	if fr.max > 0 {
		limit = fr.max
	}
	if body > limit {
		return f, fmt.Errorf("%w: %d bytes", ErrAllocation, body)
	}
	if alloc != nil {
		if err := alloc(f.job, f.alloc); err != nil {
			return f, err
		}
	}
	f.body = make([]byte, body)
	if err := fr.full(f.body); err != nil {
		return f, err
	}
	return f, nil
}

// discard reads and drops the rest of the current frame, once its header
// is in: a reader that could not allocate or decode a body stays in step
// with the stream.
func (fr *frameReader) discard() error {
	left := fr.need.Load() - fr.have.Load()
	var scratch [4096]byte
	for left > 0 {
		n := min(left, int64(len(scratch)))
		if err := fr.full(scratch[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

func (fr *frameReader) full(b []byte) error {
	start := fr.have.Load()
	for off := 0; off < len(b); {
		n, err := fr.r.Read(b[off:])
		off += n
		if n > 0 {
			fr.read.Add(int64(n))
			fr.have.Store(start + int64(off))
			fr.bump()
		}
		if err != nil {
			if err == io.EOF && (start > 0 || off > 0) {
				return ErrTornFrame
			}
			return err
		}
	}
	return nil
}

// progress returns how much of a frame the reader holds and needs; need is
// 0 while the header is still incomplete.
func (fr *frameReader) progress() (have, need int64) { return fr.have.Load(), fr.need.Load() }

// enc/dec are a minimal little-endian codec for frame bodies.
type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) i64(v int64)  { e.b = binary.LittleEndian.AppendUint64(e.b, uint64(v)) }
func (e *enc) bytes(v []byte) {
	e.b = binary.LittleEndian.AppendUint32(e.b, uint32(len(v)))
	e.b = append(e.b, v...)
}
func (e *enc) trigs(ts []trig) {
	e.u8(uint8(len(ts)))
	for _, t := range ts {
		e.u16(t.id)
		e.u8(uint8(t.at))
		e.i64(t.arg)
		e.i64(t.job)
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
func (d *dec) u8() uint8 {
	if !d.need(1) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}
func (d *dec) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	v := binary.LittleEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}
func (d *dec) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}
func (d *dec) i64() int64 {
	if !d.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return int64(v)
}
func (d *dec) bytes() []byte {
	if !d.need(4) {
		return nil
	}
	n := int(binary.LittleEndian.Uint32(d.b))
	d.b = d.b[4:]
	if !d.need(n) {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) trigs() []trig {
	n := int(d.u8())
	if n == 0 || d.err != nil {
		return nil
	}
	ts := make([]trig, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		ts = append(ts, trig{id: d.u16(), at: Point(d.u8()), arg: d.i64(), job: d.i64()})
	}
	return ts
}

// wireTask is one call as it travels: triggers first, so that a
// decode-time trigger acts in the middle of decoding, before the function
// is known.
type wireTask struct {
	trigs []trig
	fn    string
	arg   []byte
}

// maxChunk bounds the calls of one task frame.
const maxChunk = 1<<16 - 1

// encodeTask encodes a task of one call (apply_async).
func encodeTask(job int, t wireTask) ([]byte, error) {
	return encodeChunk(job, []wireTask{t})
}

// encodeChunk runs the task-encode triggers, then encodes one task frame
// holding every call of a map chunk, for jobs job, job+1, ... (pickling
// Pool.map's (job, i, mapstar, ((func, chunk),), {}): one task, its calls
// in a tuple). It follows pickling in the parent: the first call that
// fails to encode fails the whole task, and the error is the caller's to
// handle.
func encodeChunk(job int, calls []wireTask) ([]byte, error) {
	if len(calls) == 0 || len(calls) > maxChunk {
		return nil, fmt.Errorf("pools: a task holds 1 to %d calls, not %d", maxChunk, len(calls))
	}
	for _, c := range calls {
		if err := fire(c.trigs, PointTaskEncode, job, false, nil); err != nil {
			return nil, err
		}
	}
	// Checked before anything is copied: a body this large is refused,
	// not built.
	size := 2
	for _, c := range calls {
		size += trigsLen(c.trigs) + 4 + len(c.fn) + 4 + len(c.arg)
	}
	if err := checkFrameLen(size); err != nil {
		return nil, fmt.Errorf("job %d: %w", job, err)
	}
	var e enc
	e.u16(uint16(len(calls)))
	for _, c := range calls {
		e.trigs(c.trigs)
		e.bytes([]byte(c.fn))
		e.bytes(c.arg)
	}
	return appendFrame(nil, job, trig{}, e.b), nil
}

func trigsLen(ts []trig) int { return 1 + len(ts)*(2+1+8+8) }

// checkFrameLen refuses a body whose frame length would wrap (so would
// the 4-byte lengths inside it).
func checkFrameLen(body int) error {
	if int64(body) > maxFrameLen-envelopeSize {
		return fmt.Errorf("%w: a %d-byte body, at most %d", ErrFrameTooLarge, body, int64(maxFrameLen-envelopeSize))
	}
	return nil
}

// decodeTask decodes a task body into its calls; each call's task-decode
// triggers act midway, once its triggers are read.
func decodeTask(job int, body []byte, worker bool, await func(Point, int)) ([]wireTask, error) {
	d := dec{b: body}
	n := int(d.u16())
	if d.err == nil && n == 0 {
		return nil, errors.New("corrupt task: no calls")
	}
	calls := make([]wireTask, 0, min(n, 64))
	for k := 0; k < n && d.err == nil; k++ {
		t := wireTask{trigs: d.trigs()}
		if d.err != nil {
			break
		}
		if err := fire(t.trigs, PointTaskDecode, job+k, worker, await); err != nil {
			return calls, err
		}
		t.fn = string(d.bytes())
		t.arg = d.bytes()
		calls = append(calls, t)
	}
	return calls, d.err
}

// wireResult is a task's outcome as it travels from a worker.
type wireResult struct {
	status uint8
	// values holds, for stOK, one value per call of the task; value is
	// the first (the only one of an apply_async task), or the error
	// message, or the exit code.
	values [][]byte
	value  []byte
	trigs  []trig // result-side triggers carried over from the task
}

func (r wireResult) err() error {
	switch r.status {
	case stOK:
		return nil
	case stTaskError:
		return &TaskError{Msg: string(r.value)}
	case stExitRequest:
		code, _ := strconv.Atoi(string(r.value))
		return &ExitRequest{Code: code}
	case stEncodeError:
		return &EncodeError{What: "result", Err: &TaskError{Msg: string(r.value)}}
	}
	return fmt.Errorf("unknown result status %d", r.status)
}

// resultOf is a task's outcome: the values of its calls, or the error
// that ended it.
func resultOf(values [][]byte, err error, trigs []trig) wireResult {
	var x *ExitRequest
	var ee *EncodeError
	switch {
	case err == nil:
		r := wireResult{status: stOK, values: values, trigs: trigs}
		if len(values) > 0 {
			r.value = values[0]
		}
		return r
	case errors.As(err, &x):
		return wireResult{status: stExitRequest, value: []byte(strconv.Itoa(x.Code)), trigs: trigs}
	case errors.As(err, &ee):
		return wireResult{status: stEncodeError, value: []byte(ee.Err.Error()), trigs: trigs}
	}
	return wireResult{status: stTaskError, value: []byte(err.Error()), trigs: trigs}
}

// encodeResult runs the result-encode triggers and encodes the frame.
func encodeResult(job int, r wireResult, await func(Point, int)) ([]byte, error) {
	if err := fire(r.trigs, PointResultEncode, job, true, await); err != nil {
		return nil, err
	}
	alloc := trig{job: -1}
	for _, t := range r.trigs {
		if t.at == PointResultAlloc {
			alloc = t
		}
	}
	vals := r.values
	if r.status != stOK || vals == nil {
		vals = [][]byte{r.value}
	}
	size := trigsLen(r.trigs) + 1 + 4
	for _, v := range vals {
		size += 4 + len(v)
	}
	if err := checkFrameLen(size); err != nil {
		return nil, err
	}
	var e enc
	e.trigs(r.trigs)
	e.u8(r.status)
	e.u32(uint32(len(vals)))
	for _, v := range vals {
		e.bytes(v)
	}
	return appendFrame(nil, job, alloc, e.b), nil
}

// decodeResult decodes a result body in the parent; result-decode triggers
// act midway, like an object whose unpickling raises.
func decodeResult(job int, body []byte) (wireResult, error) {
	d := dec{b: body}
	r := wireResult{trigs: d.trigs()}
	if d.err != nil {
		return r, d.err
	}
	if err := fire(r.trigs, PointResultDecode, job, false, nil); err != nil {
		return r, err
	}
	r.status = d.u8()
	n := int(d.u32())
	for k := 0; k < n && d.err == nil; k++ {
		r.values = append(r.values, d.bytes())
	}
	if len(r.values) > 0 {
		r.value = r.values[0]
	}
	return r, d.err
}
