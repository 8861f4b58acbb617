package pools

import "testing"

// The caller's wait for the result write lock in terminate() is ready
// when the lock is free, or held by this process other than by the task
// handler: the caller itself, between taking it and recording so.
func TestCallerMayTakeResultLock(t *testing.T) {
	const me, worker = 100, 200
	for _, c := range []struct {
		holder     int
		taskWrites bool
		want       bool
	}{
		{0, false, true},
		{0, true, true}, // the two are read apart: a free lock is free
		{me, false, true},
		{me, true, false},
		{worker, false, false},
		{worker, true, false},
	} {
		if got := callerMayTakeResultLock(c.holder, me, c.taskWrites); got != c.want {
			t.Errorf("holder %d, task handler writing %v: ready = %v, want %v", c.holder, c.taskWrites, got, c.want)
		}
	}
}
