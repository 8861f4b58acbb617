package pools_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/poolhang/poolhang/pools"
)

// throughputBatch is the number of tasks in each timed Map of
// BenchmarkThroughput, so ns/op is the time of one batch.
const throughputBatch = 1000

// BenchmarkThroughput measures the fault-free throughput of every strategy
// with a trivial task (Square), one task per message, the workload that
// bench/cpython.py measures for multiprocessing.Pool and
// ProcessPoolExecutor. The pool is started and warmed up (a Map of
// 2*workers tasks, as in the CPython script) before the timed part; each
// iteration maps throughputBatch tasks and checks every value. The
// tasks/s metric is the total number of tasks over the timed wall time.
func BenchmarkThroughput(b *testing.B) {
	tasks := make([]pools.Task, throughputBatch)
	for i := range tasks {
		tasks[i] = pools.Square(int64(i))
	}
	for _, s := range pools.Strategies() {
		for _, workers := range []int{2, 8} {
			b.Run(fmt.Sprintf("%s/workers=%d", s, workers), func(b *testing.B) {
				benchThroughput(b, s, workers, tasks)
			})
		}
	}
}

func benchThroughput(b *testing.B, s pools.Strategy, workers int, tasks []pools.Task) {
	p, err := pools.Start(s, pools.Options{Workers: workers})
	if err != nil {
		b.Fatalf("start %s with %d workers: %v", s, workers, err)
	}
	defer func() {
		if err := p.Terminate(); err != nil {
			b.Errorf("terminate: %v", err)
		}
	}()
	mapAndCheck(b, p, tasks[:2*workers]) // warm-up, not timed

	batches := 0
	for b.Loop() { // the timer starts at the first call
		mapAndCheck(b, p, tasks)
		batches++
	}
	if elapsed := b.Elapsed(); batches > 0 && elapsed > 0 {
		b.ReportMetric(float64(batches*len(tasks))/elapsed.Seconds(), "tasks/s")
		b.ReportMetric(float64(len(tasks)), "tasks/op") // read by bench/perf
	}
}

// mapAndCheck maps tasks (Square(i) for i = 0, 1, ...) and fails the
// benchmark unless every job returned i*i. The check costs a few
// microseconds per batch, far below the round trips it follows.
func mapAndCheck(b *testing.B, p pools.Pool, tasks []pools.Task) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := p.Map(ctx, tasks)
	if err != nil {
		b.Fatalf("map of %d tasks: %v", len(tasks), err)
	}
	if len(rs) != len(tasks) {
		b.Fatalf("map of %d tasks returned %d results", len(tasks), len(rs))
	}
	for i, r := range rs {
		v, err := pools.Int(r.Value)
		if r.Err != nil || err != nil || v != int64(i)*int64(i) {
			b.Fatalf("job %d: value %d, errors %v, %v; want %d", i, v, r.Err, err, i*i)
		}
	}
}
