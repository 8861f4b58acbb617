package faults

import (
	"github.com/poolhang/poolhang/pools"
)

// BigResultSize is the size of big-result's value: 16 times the 64 KiB
// a Linux pipe buffers by default, so its writer blocks in write(2)
// until a reader has drained all but the last 64 KiB.
const BigResultSize = 1 << 20

// big-result: the task returns a result larger than the result pipe, and
// the caller joins before it reads any result (submit every job, close,
// join, then get). It is the rule CPython's documentation states under
// "joining processes that use queues": a process that put items on a
// queue does not end until they are flushed to the pipe, so joining it
// before the queue is drained can deadlock (gh-94777 is the executor's
// version). Whether a pool deadlocks depends on who reads the result
// pipe while the caller is in join: the worker stays blocked in write(2)
// on the result pipe until that reader has taken all but a pipe's worth.
func init() {
	pools.RegisterAction("return-big", func(s *pools.Strike) error {
		return &pools.Returned{Value: pools.Payload(BigResultSize)}
	})
	Register(Kind{
		Name:   "big-result",
		Models: "a task returns a result larger than the pipe (1 MiB), and the caller calls join() before reading any result",
		Effect: Outsized,
		Order:  80,
		Action: "return-big",
		Wait:   "join",
		Value:  func(int) []byte { return pools.Payload(BigResultSize) },
		Phases: map[Phase]string{
			TaskRun: "the task function returns 1 MiB; the worker writes it to the result pipe, which holds 64 KiB",
		},
		NotAt: map[Phase]string{
			TaskEncode:     "the result's size is the task function's doing; the parent's encoder runs none",
			TaskDecode:     "the result's size is the task function's doing; decoding the task runs none",
			ResultEncode:   "the result is made by the task function (task-run); encoding only writes it",
			ResultWrite:    "the result is made by the task function (task-run); writing only sends it",
			ResultDecode:   "the result is made in the worker, not by the parent's decoder",
			IdleLockHolder: "an idle worker returns no result",
			IdleLockWaiter: "an idle worker returns no result",
		},
	})
}
