package pools

import (
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolhang/poolhang/internal/fdcount"
)

// A pipe's close returns only once both ends are closed, even while
// another close is under way and waiting for a goroutine to leave the
// read end: a Terminate racing a Join's close (both close the pools'
// pipes) otherwise returned with a descriptor open, which CI saw.
func TestPipeCloseWaitsForACloseUnderWay(t *testing.T) {
	before := fdcount.Count(t)
	p, err := newPipe("test pipe", true, false, new(atomic.Int64), new(atomic.Int64), func() {})
	if err != nil {
		t.Fatal(err)
	}
	// A goroutine inside the read end (a snapshot's FIONREAD) holds it:
	// the first close waits for it to leave.
	rc, err := p.r.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	inside, leave := make(chan struct{}), make(chan struct{})
	go rc.Control(func(uintptr) { close(inside); <-leave })
	<-inside
	go p.close()
	// The first close has begun once the read end refuses new users.
	for rc.Control(func(uintptr) {}) == nil {
		time.Sleep(time.Millisecond)
	}
	second := make(chan int)
	go func() {
		p.close()
		second <- fdcount.Count(t)
	}()
	// The second close must not return while the reader is inside;
	// give it the time to, then let the reader leave.
	select {
	case n := <-second:
		close(leave)
		t.Fatalf("the second close returned while the first was under way, with %d descriptors open (%d before the pipe)", n, before)
	case <-time.After(100 * time.Millisecond):
	}
	close(leave)
	if n := <-second; n != before {
		t.Errorf("%d descriptors once the second close returned, %d before the pipe", n, before)
	}
	if err := p.r.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("read end: Close = %v, want it closed already", err)
	}
}
