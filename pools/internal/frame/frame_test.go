package frame

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"sync/atomic"
	"testing"
)

func newTestReader(b []byte) (*Reader, *atomic.Int64) {
	read := new(atomic.Int64)
	return NewReader(bytes.NewReader(b), new(atomic.Int64), new(atomic.Int64), read, func() {}), read
}

func TestTaskRoundTrip(t *testing.T) {
	calls := []Call{
		{Trigs: []Trigger{{ID: 3, At: 7, Arg: -5, Job: 12}, {ID: 1, At: 2, Arg: 1 << 40, Job: -1}}, Fn: "square", Arg: []byte{1, 2, 3}},
		{Fn: "echo", Arg: []byte{}},
	}
	b, err := EncodeTask(12, calls)
	if err != nil {
		t.Fatal(err)
	}
	fr, read := newTestReader(b)
	f, err := fr.Next(nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Job != 12 || f.Alloc != (Trigger{}) || read.Load() != int64(len(b)) {
		t.Fatalf("frame job %d, alloc %+v, %d bytes read; want 12, none, %d", f.Job, f.Alloc, read.Load(), len(b))
	}
	if have, need := fr.Progress(); have != need || need != int64(len(b)) {
		t.Errorf("Progress() = %d, %d; want %d, %d", have, need, len(b), len(b))
	}
	var seen [][]Trigger
	got, err := DecodeTask(f.Body, func(k int, ts []Trigger) error { seen = append(seen, ts); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, calls) {
		t.Errorf("DecodeTask = %+v, want %+v", got, calls)
	}
	if len(seen) != 2 || !reflect.DeepEqual(seen[0], calls[0].Trigs) || seen[1] != nil {
		t.Errorf("each saw %+v, want each call's triggers", seen)
	}
	if _, err := fr.Next(nil); err != io.EOF {
		t.Errorf("Next at the end of the stream: %v, want io.EOF", err)
	}
}

// A decode hook that fails ends the decoding before the call's function
// is read: the calls decoded so far come back with its error.
func TestDecodeHooksStopMidway(t *testing.T) {
	stop := errors.New("stop")
	b, _ := EncodeTask(0, []Call{{Fn: "a"}, {Trigs: []Trigger{{ID: 1}}, Fn: "b"}})
	got, err := DecodeTask(b[headerLen:], func(k int, ts []Trigger) error {
		if k == 1 {
			return stop
		}
		return nil
	})
	if err != stop || len(got) != 1 || got[0].Fn != "a" {
		t.Errorf("DecodeTask = %+v, %v; want call a and the hook's error", got, err)
	}
	r := Result{Status: StatusTaskError, Value: []byte("boom"), Trigs: []Trigger{{ID: 2, At: 9, Job: 4}}}
	b, _ = EncodeResult(4, r, Trigger{})
	if got, err := DecodeResult(b[headerLen:], func([]Trigger) error { return stop }); err != stop || got.Status != 0 {
		t.Errorf("DecodeResult with a failing hook = %+v, %v; want no status read and the hook's error", got, err)
	}
}

func TestResultRoundTrip(t *testing.T) {
	alloc := Trigger{ID: 9, At: 4, Arg: 77, Job: 3}
	for _, r := range []Result{
		{Status: StatusOK, Values: [][]byte{{1}, {}, {2, 3}}},
		{Status: StatusOK, Value: []byte{}}, // no values: one empty one travels
		{Status: StatusExitRequest, Value: []byte("3"), Trigs: []Trigger{alloc}},
		{Status: StatusEncodeError, Value: []byte("cannot pickle")},
	} {
		b, err := EncodeResult(3, r, alloc)
		if err != nil {
			t.Fatal(err)
		}
		fr, _ := newTestReader(b)
		var hooked Trigger
		f, err := fr.Next(func(job int, t Trigger) error { hooked = t; return nil })
		if err != nil || hooked != alloc || f.Alloc != alloc {
			t.Fatalf("Next: %v, alloc hook saw %+v; want %+v", err, hooked, alloc)
		}
		got, err := DecodeResult(f.Body, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := r
		if want.Values == nil || want.Status != StatusOK {
			want.Values = [][]byte{r.Value}
		}
		want.Value = want.Values[0]
		if !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeResult = %+v, want %+v", got, want)
		}
	}
}

func TestRefusedLengths(t *testing.T) {
	if err := CheckLen(MaxFrameLen - EnvelopeSize); err != nil {
		t.Errorf("CheckLen(largest) = %v", err)
	}
	if err := CheckLen(MaxFrameLen - EnvelopeSize + 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("CheckLen(largest+1) = %v, want ErrTooLarge", err)
	}
	for _, n := range []int{0, MaxChunk + 1} {
		if _, err := EncodeTask(0, make([]Call, n)); err == nil {
			t.Errorf("EncodeTask of %d calls: no error", n)
		}
	}
	short := Append(nil, 1, Trigger{}, nil)
	short[0] = EnvelopeSize - 1
	big := Append(nil, 1, Trigger{}, make([]byte, 65))
	for _, c := range []struct {
		name string
		b    []byte
		max  int64
		want error
	}{
		{"shorter than its envelope", short, 0, ErrCorrupt},
		{"over the reader's limit", big, 64, ErrAllocation},
		{"truncated body", Append(nil, 1, Trigger{}, []byte{2, 0}), 0, nil},
	} {
		fr, _ := newTestReader(c.b)
		fr.Max = c.max
		f, err := fr.Next(nil)
		if c.want == nil {
			if _, err = DecodeTask(f.Body, nil); err == nil {
				t.Errorf("%s: decoded", c.name)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// A stream that ends inside a frame is a torn frame, in its header or its
// body; one that ends between frames is io.EOF.
func TestTornFrame(t *testing.T) {
	b := Append(nil, 5, Trigger{}, []byte("body"))
	for _, n := range []int{1, headerLen - 1, headerLen, len(b) - 1} {
		fr, read := newTestReader(b[:n])
		_, err := fr.Next(nil)
		if !errors.Is(err, ErrTorn) || read.Load() != int64(n) {
			t.Errorf("cut at %d of %d bytes: %v after %d bytes, want ErrTorn", n, len(b), err, read.Load())
		}
		if have, _ := fr.Progress(); have != int64(n) {
			t.Errorf("cut at %d: Progress holds %d bytes", n, have)
		}
	}
}

// A body refused before it is allocated is skipped, and the reader stays
// in step: the next frame reads whole.
func TestSkippedBody(t *testing.T) {
	refuse := errors.New("refused")
	b := Append(nil, 1, Trigger{ID: 1}, bytes.Repeat([]byte{0xff}, 10000))
	b = Append(b, 2, Trigger{}, []byte("next"))
	fr, _ := newTestReader(b)
	f, err := fr.Next(func(job int, t Trigger) error {
		if t.ID != 0 {
			return refuse
		}
		return nil
	})
	if err != refuse || f.Job != 1 || f.Body != nil {
		t.Fatalf("Next = job %d, %d body bytes, %v; want job 1 refused before its body", f.Job, len(f.Body), err)
	}
	if err := fr.Discard(); err != nil {
		t.Fatal(err)
	}
	f, err = fr.Next(nil)
	if err != nil || f.Job != 2 || string(f.Body) != "next" {
		t.Errorf("after Discard: job %d, %q, %v; want job 2, \"next\"", f.Job, f.Body, err)
	}
}

// A reader holds what it has yet to handle once it has a whole frame, or
// a whole header it has not parsed yet: a sentinel's frame is all header,
// and between counting its bytes read and storing need, the pipe shows
// nothing in flight, so that moment must read as ready (under load it
// once spanned the two snapshots a proof needs).
func TestHolding(t *testing.T) {
	for _, c := range []struct {
		have, need int64
		want       bool
	}{
		{0, 0, false},
		{headerLen - 1, 0, false},
		{headerLen, 0, true},
		{headerLen, headerLen, true},
		{headerLen, headerLen + 10, false},
		{headerLen + 10, headerLen + 10, true},
	} {
		if got := Holding(c.have, c.need); got != c.want {
			t.Errorf("Holding(%d, %d) = %v, want %v", c.have, c.need, got, c.want)
		}
	}
	// Next's own order: the header is counted before need is known.
	var have, need, read atomic.Int64
	var sawHeaderOnly bool
	b := Append(nil, JobSentinel, Trigger{}, nil)
	fr := NewReader(bytes.NewReader(b), &have, &need, &read, func() {
		if need.Load() == 0 && have.Load() == headerLen {
			sawHeaderOnly = true
			if !Holding(have.Load(), need.Load()) {
				t.Error("a reader holding a whole header it has yet to parse is not Holding")
			}
		}
	})
	if _, err := fr.Next(nil); err != nil {
		t.Fatal(err)
	}
	if !sawHeaderOnly {
		t.Error("Next never showed a whole header with need unknown; the test no longer covers that moment")
	}
}
