package pools

import (
	"bytes"
	"sync/atomic"
	"testing"
)

// The scheduler takes in one turn only a run of plain calls, so a task
// with a trigger, a chunk or a sentinel goes alone, as pebble's
// task_scheduler_loop sends every task.
func TestPebbleRunTakesPlainCallsOnly(t *testing.T) {
	plain := queued{t: wireTask{Fn: "square"}}
	trigd := queued{t: wireTask{Fn: "square", Trigs: []trig{{At: uint8(PointTaskRun)}}}}
	chunk := queued{chunk: []wireTask{{Fn: "square"}}}
	many := make([]queued, maxRun+5)
	for i := range many {
		many[i] = plain
	}
	for _, c := range []struct {
		name string
		q    []queued
		want int
	}{
		{"plain run", []queued{plain, plain, plain}, 3},
		{"stops at a trigger", []queued{plain, plain, trigd, plain}, 2},
		{"a trigger goes alone", []queued{trigd, plain, plain}, 1},
		{"a chunk goes alone", []queued{chunk, plain}, 1},
		{"a sentinel goes alone", []queued{{sentinel: true}, plain}, 1},
		{"at most maxRun", many, maxRun},
	} {
		p := &pebblePool{taskq: c.q}
		if got := p.runLocked(); got != c.want {
			t.Errorf("%s: runLocked() = %d, want %d", c.name, got, c.want)
		}
	}
}

// trySend writes the whole run or nothing: on a pipe without room for it
// it writes no byte, so the frames then go one by one, in order.
func TestTrySendAllOrNothing(t *testing.T) {
	var written, read atomic.Int64
	p, err := newPipe("test pipe", false, true, &written, &read, func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	run := bytes.Repeat([]byte{7}, pipeBuf)
	ok, err := p.trySend(run)
	if !ok || err != nil || written.Load() != pipeBuf {
		t.Fatalf("trySend on an empty pipe = %v, %v; %d bytes counted, want true, nil, %d", ok, err, written.Load(), pipeBuf)
	}
	for ok && err == nil { // fill the pipe
		ok, err = p.trySend(run)
	}
	if err != nil {
		t.Fatalf("trySend on a full pipe: %v, want no error", err)
	}
	before, inPipe := written.Load(), int64(p.buffered())
	if before != inPipe || before%pipeBuf != 0 {
		t.Fatalf("after a refused run: %d bytes counted, %d in the pipe; want the same whole runs", before, inPipe)
	}
}
