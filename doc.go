// Package poolhang is a fault-injection harness that shows, on real
// processes, which worker-pool designs hang when a worker dies.
//
// The pools live in [github.com/poolhang/poolhang/pools], the faults in
// [github.com/poolhang/poolhang/faults], and scenarios, the runner and the
// verdicts in [github.com/poolhang/poolhang/scenarios]. This package holds
// only the harness suite (harness_test.go); results/ holds the matrix.
package poolhang
