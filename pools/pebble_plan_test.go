package pools

import (
	"syscall"
	"testing"
)

// planExpiry is inspect_workers' filter and find_expired_task
// (pebble/pool/process.py, pebble 5.0): exit code 0 is a retirement that
// fails no task, whatever the worker held; otherwise the task the worker
// acknowledged fails, a worker with none fails nothing (LookupError,
// swallowed), and a death with no task running breaks the pool.
func TestPebblePlanExpiry(t *testing.T) {
	for _, c := range []struct {
		name    string
		x       Exit
		running map[int]int
		want    expiry
		job     int
	}{
		{"exit 0 holding a task is a retirement", Exit{Code: 0}, map[int]int{2: 100}, expiryRetired, -1},
		{"exit 0 with nothing running is a retirement too", Exit{}, nil, expiryRetired, -1},
		{"a signal fails its acknowledged task", Exit{Signal: syscall.SIGKILL}, map[int]int{1: 101, 2: 100}, expiryTask, 2},
		{"an exit code fails its acknowledged task", Exit{Code: 3}, map[int]int{2: 100}, expiryTask, 2},
		{"another worker's task only: LookupError, swallowed", Exit{Code: 1}, map[int]int{1: 101}, expiryLost, -1},
		{"no task running: All workers expired", Exit{Signal: syscall.SIGSEGV}, map[int]int{}, expiryAll, -1},
	} {
		got, job := planExpiry(c.x, 100, c.running)
		if got != c.want || job != c.job {
			t.Errorf("%s: planExpiry = %d, job %d; want %d, job %d", c.name, got, job, c.want, c.job)
		}
	}
}
