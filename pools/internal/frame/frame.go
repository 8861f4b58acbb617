// Package frame is the byte layout of everything a pool's pipes carry:
// frames (a length, an envelope, a body), a reader that counts the bytes
// of the frame in progress, and the bodies of tasks and results.
//
// It knows nothing of pools: a trigger is four numbers (the registry id of
// an action, the point it acts at, its argument and its job) and a result's
// status is a byte. Resolving triggers, firing them and turning a status
// into an error are the caller's; the codec only says where in a frame
// each trigger travels and gives the caller a turn at the moments a
// trigger may act (a task's calls midway through decoding, a result's
// body midway through decoding, a body before it is allocated).
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// Every message on a pipe is a frame: a 4-byte length L, then an envelope
// (the 8-byte job id and one optional trigger, with its job, that acts when
// the reader allocates the body), then L-EnvelopeSize bytes of body. A frame
// is written with one write(2) but may be far larger than PIPE_BUF, so a
// writer that dies mid-frame leaves a torn frame, and a reader waits for
// the rest.
const (
	lenSize      = 4
	triggerSize  = 2 + 1 + 8 + 8
	EnvelopeSize = 8 + triggerSize
	headerLen    = lenSize + EnvelopeSize
	// MaxBody is the largest body a reader will allocate; a larger length
	// fails like a failed allocation (it is how garbage in a pipe, as in
	// the seed's gdb session, becomes a MemoryError).
	MaxBody = 1 << 30
	// MaxFrameLen is what the 4-byte length can say: a larger frame is
	// refused when it is written, since its length would wrap.
	MaxFrameLen = 1<<32 - 1
)

// Job ids with a meaning of their own.
const (
	JobSentinel = -1 // "no more tasks" (Python's None on a queue)
	JobExiting  = -2 // a fail-fast worker says it got its sentinel and exits
	JobAck      = -3 // a billiard worker acknowledges a job it took (its body says which)
)

// ErrAllocation is the reader's MemoryError: it could not allocate a frame
// body.
var ErrAllocation = errors.New("cannot allocate frame body (MemoryError)")

// ErrCorrupt is returned by a reader whose frame header cannot be right:
// the stream is out of step.
var ErrCorrupt = errors.New("corrupt frame")

// ErrTooLarge is returned by an encoder whose frame would not fit the
// 4-byte length.
var ErrTooLarge = errors.New("frame too large for its 4-byte length")

// ErrTorn is returned by a reader that met the end of a stream inside a
// frame.
var ErrTorn = errors.New("torn frame: the stream ended inside a frame")

// A Trigger is a fault trigger as it travels: the registry id of its
// action (0: none), the point it acts at, its argument, and the job it
// rides in (-1 until the job is known).
type Trigger struct {
	ID  uint16
	At  uint8
	Arg int64
	Job int64
}

// A Frame is one frame as read.
type Frame struct {
	Job   int
	Alloc Trigger // acts when the body is allocated; ID 0 means none
	Body  []byte
}

// Append appends a frame to dst.
func Append(dst []byte, job int, alloc Trigger, body []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(EnvelopeSize+len(body)))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(int64(job)))
	dst = appendTrigger(dst, alloc)
	return append(dst, body...)
}

func appendTrigger(dst []byte, t Trigger) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, t.ID)
	dst = append(dst, t.At)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(t.Arg))
	return binary.LittleEndian.AppendUint64(dst, uint64(t.Job))
}

func trigger(b []byte) Trigger {
	return Trigger{ID: binary.LittleEndian.Uint16(b), At: b[2],
		Arg: int64(binary.LittleEndian.Uint64(b[3:])), Job: int64(binary.LittleEndian.Uint64(b[11:]))}
}

// CheckLen refuses a body whose frame length would wrap (so would the
// 4-byte lengths inside it).
func CheckLen(body int) error {
	if int64(body) > MaxFrameLen-EnvelopeSize {
		return fmt.Errorf("%w: a %d-byte body, at most %d", ErrTooLarge, body, int64(MaxFrameLen-EnvelopeSize))
	}
	return nil
}

// A Reader reads frames and counts the bytes of the frame in progress, so
// a snapshot can say "blocked with 15 of 31 bytes of a frame". Its
// counters may live in memory other processes read.
type Reader struct {
	r    io.Reader
	have *atomic.Int64 // bytes of the current frame read so far
	need *atomic.Int64 // bytes the current frame needs, once its header is read; 0 before
	read *atomic.Int64 // the pipe's read counter
	bump func()
	hdr  [headerLen]byte
	// Max is the largest body it allocates; 0: MaxBody.
	Max int64
}

// NewReader returns a reader of r that keeps its progress in have and
// need, adds every byte it reads to read, and calls bump on every change.
func NewReader(r io.Reader, have, need, read *atomic.Int64, bump func()) *Reader {
	return &Reader{r: r, have: have, need: need, read: read, bump: bump}
}

// Next reads one frame. alloc, if not nil, runs after the header is read
// and before the body is allocated; an error from it leaves the body
// unread (Discard skips it).
func (fr *Reader) Next(alloc func(job int, t Trigger) error) (Frame, error) {
	fr.have.Store(0)
	fr.need.Store(0)
	fr.bump()
	if err := fr.full(fr.hdr[:]); err != nil {
		return Frame{Job: -1}, err
	}
	n := int64(binary.LittleEndian.Uint32(fr.hdr[:4]))
	f := Frame{Job: int(int64(binary.LittleEndian.Uint64(fr.hdr[4:12]))), Alloc: trigger(fr.hdr[12:])}
	if n < EnvelopeSize {
		return f, fmt.Errorf("%w: length %d shorter than its envelope", ErrCorrupt, n)
	}
	body := n - EnvelopeSize
	fr.need.Store(lenSize + n)
	fr.bump()
	limit := int64(MaxBody)
	if fr.Max > 0 {
		limit = fr.Max
	}
	if body > limit {
		return f, fmt.Errorf("%w: %d bytes", ErrAllocation, body)
	}
	if alloc != nil {
		if err := alloc(f.Job, f.Alloc); err != nil {
			return f, err
		}
	}
	f.Body = make([]byte, body)
	if err := fr.full(f.Body); err != nil {
		return f, err
	}
	return f, nil
}

// Discard reads and drops the rest of the current frame, once its header
// is in: a reader that could not allocate or decode a body stays in step
// with the stream.
func (fr *Reader) Discard() error {
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

func (fr *Reader) full(b []byte) error {
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
				return ErrTorn
			}
			return err
		}
	}
	return nil
}

// Holding reports whether a reader at progress (have, need) holds what it
// has yet to handle: a whole frame, or a whole header it has yet to parse
// (need is still 0 then, and the header's bytes are already counted as
// read, so the pipe shows nothing in flight).
func Holding(have, need int64) bool {
	if need == 0 {
		return have >= headerLen
	}
	return have == need
}

// Progress returns how much of a frame the reader holds and needs; need is
// 0 while the header is still incomplete.
func (fr *Reader) Progress() (have, need int64) { return fr.have.Load(), fr.need.Load() }

// Counters returns the words Progress reads, for a reader of them in
// another goroutine or process.
func (fr *Reader) Counters() (have, need *atomic.Int64) { return fr.have, fr.need }
