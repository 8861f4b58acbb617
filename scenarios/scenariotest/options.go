package scenariotest

import (
	"pgregory.net/rapid"

	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/scenarios"
)

// drawOptions draws the pool options sc's pool takes: a tasks-per-worker
// limit (0 to 4, 0 for none), an initializer that raises (one in 8; not with an
// idle fault, which could then never strike), and for a map a chunk
// size (0 to 4, 0 for Pool.map's default). Each shrinks toward none.
func drawOptions(t *rapid.T, sc *scenarios.Scenario) {
	if scenarios.MaxTasksNA(sc.Pool) == "" {
		sc.MaxTasks = rapid.IntRange(0, 4).Draw(t, "maxtasks")
	}
	idle := false
	for _, f := range sc.Faults {
		idle = idle || f.Job < 0
	}
	// One scenario in 8: a crash loop costs tracked its whole restart
	// budget (16 worker starts) before it answers.
	if scenarios.InitializerNA(sc.Pool) == "" && !idle && rapid.IntRange(0, 7).Draw(t, "initializer raises if 7") == 7 {
		sc.Initializer = scenarios.InitRaise
	}
	if sc.Wait == scenarios.WaitMap && sc.Pool.Supports(pools.OptionChunkSize) {
		sc.ChunkSize = rapid.IntRange(0, 4).Draw(t, "chunksize")
	}
}
