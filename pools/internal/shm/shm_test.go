package shm

import (
	"strings"
	"testing"
	"time"
)

func TestHandshakeAndLock(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	secret, err := r.Handshake(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	fd := int(r.File().Fd())
	if !Proven(fd, secret) || r.MaxFrame() != 1<<20 {
		t.Fatalf("Proven(own secret) = false or MaxFrame = %d", r.MaxFrame())
	}
	wrong := strings.Repeat("0", 2*SecretLen)
	for _, s := range []string{wrong, "", "zz", secret + "00"} {
		if Proven(fd, s) {
			t.Errorf("Proven(%q) = true", s)
		}
	}
	l := r.Lock(1)
	before := r.Progress().Load()
	l.Acquire(42)
	if l.Holder() != 42 || r.Lock(0).Holder() != 0 {
		t.Fatalf("holders %d, %d; want 42, 0", l.Holder(), r.Lock(0).Holder())
	}
	if l.AcquireParent(7, func() bool { return true }) {
		t.Fatal("AcquireParent took a held lock")
	}
	l.Release()
	if l.Holder() != 0 || r.Progress().Load() != before+2 {
		t.Fatalf("after release: holder %d, progress +%d", l.Holder(), r.Progress().Load()-before)
	}
}

func TestSlotReset(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := r.Slot(MaxSlots - 1)
	s.Set(5, 9)
	s.Counters().TaskW.Store(3)
	s.Post(2, 11)
	s.Reset(123)
	if s.PID().Load() != 123 || s.State().Load() != 0 || s.Job().Load() != -1 || s.Counters().TaskW.Load() != 0 {
		t.Fatalf("after Reset: pid %d state %d job %d taskW %d", s.PID().Load(), s.State().Load(), s.Job().Load(), s.Counters().TaskW.Load())
	}
	s.Post(3, 4)
	if v, arg := s.TakeMail(); v != 3 || arg != 4 {
		t.Fatalf("TakeMail = %d, %d; want 3, 4", v, arg)
	}
}

// A release wakes a process asleep on the lock, which the waiter count
// announces; the count is back to 0 once the waiter has the lock.
func TestReleaseWakesAWaiter(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l := r.Lock(2)
	l.Acquire(1)
	got := make(chan struct{})
	go func() {
		l.Acquire(2)
		close(got)
	}()
	for l.waiters.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // most likely asleep in FUTEX_WAIT by now
	l.Release()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter was not woken by the release")
	}
	if l.Holder() != 2 || l.waiters.Load() != 0 {
		t.Fatalf("after the wake: holder %d, waiters %d; want 2, 0", l.Holder(), l.waiters.Load())
	}
	l.Release() // nobody waits: no wake needed
	if l.Holder() != 0 {
		t.Fatalf("holder %d after release, want 0", l.Holder())
	}
}

// A take is stamped in the slot's own words, which Reset clears and no
// neighbouring slot's words reach.
func TestTakeAndReset(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, next := r.Slot(0), r.Slot(1)
	next.Reset(2)
	s.Reset(1)
	s.Take(7, 1234)
	s.PointLeftAt().Store(5678)
	if s.TakenJob().Load() != 7 || s.TakenAt().Load() != 1234 || s.PointLeftAt().Load() != 5678 {
		t.Errorf("after Take: job %d at %d, point left at %d", s.TakenJob().Load(), s.TakenAt().Load(), s.PointLeftAt().Load())
	}
	if next.PID().Load() != 2 || next.TakenJob().Load() != -1 || next.TakenAt().Load() != 0 {
		t.Errorf("the next slot changed: pid %d, job %d at %d", next.PID().Load(), next.TakenJob().Load(), next.TakenAt().Load())
	}
	s.Reset(1)
	if s.TakenJob().Load() != -1 || s.TakenAt().Load() != 0 || s.PointLeftAt().Load() != 0 {
		t.Errorf("after Reset: job %d at %d, point left at %d", s.TakenJob().Load(), s.TakenAt().Load(), s.PointLeftAt().Load())
	}
}

// A Clock reads the shared clock, never earlier than Now.
func TestClockNeverEarlier(t *testing.T) {
	c := NewClock()
	for range 1000 {
		if n, m := Now(), c.Now(); m < n {
			t.Fatalf("Clock read %d after Now read %d", m, n)
		}
	}
	if d := c.Now() - Now(); d > int64(time.Millisecond) {
		t.Errorf("Clock is %v ahead of Now", time.Duration(d))
	}
}
