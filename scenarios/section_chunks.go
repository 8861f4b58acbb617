package scenarios

import (
	"fmt"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// SectionChunksSize is the chunk size of the chunks section: with 6 jobs,
// two chunks, jobs 0 to 2 and 3 to 5, so job 2 is the last of the first.
const SectionChunksSize = 3

// realChunkMaps are the real pools whose map the driver calls with
// chunksize=, and the function it calls.
var realChunkMaps = map[string]string{
	"py:mp.Pool":  "Pool.map(chunksize=N)",
	"py:billiard": "billiard.Pool.map(chunksize=N)",
	"py:pebble":   "pebble.ProcessPool.map(chunksize=N)",
	// 3.11 process.py: _get_chunks, _process_chunk, one future a chunk.
	"py:ProcessPoolExecutor": "ProcessPoolExecutor.map(chunksize=N)",
	// loky 3.3 process_executor.py: the same _get_chunks and _process_chunk.
	"py:loky": "loky ProcessPoolExecutor.map(chunksize=N)",
}

// ChunksNA says why pool p has no chunked map here, or "".
func ChunksNA(p pools.Strategy) string {
	if _, ok := realChunkMaps[string(p)]; ok {
		return ""
	}
	switch p {
	case pools.Naive, pools.Respawn, pools.FailFast, pools.Loky, pools.Billiard, pools.Pebble:
		return ""
	case pools.Tracked:
		return "the tracked design sends every task alone: there is no chunk to lose"
	}
	return "no chunked map"
}

func init() {
	DefineSection(Section{
		Name: "chunks", Order: 10,
		Title: fmt.Sprintf("map with chunksize=%d", SectionChunksSize),
		Doc: fmt.Sprintf("`Pool.map(f, jobs, chunksize=%d)`: each chunk of %d jobs is one task (`Pool._get_tasks`, `mapstar`), "+
			"so the fault aimed at job 2 strikes in the worker that holds jobs 0 to 2 at once; a death loses the whole chunk, "+
			"and each cell lists which jobs stay unresolved; ProcessPoolExecutor.map cuts the same chunks (`_get_chunks`, `_process_chunk`, one future each). Real pools: %s.", SectionChunksSize, SectionChunksSize, "Pool.map, billiard.Pool.map, pebble.ProcessPool.map, ProcessPoolExecutor.map and loky's with chunksize="),
		Rows: []Row{{"raise", faults.TaskRun}, {"sys-exit", faults.TaskRun}, {"sigkill", faults.TaskRun}, {"sigkill", faults.ResultWrite}},
		Shape: func(sc Scenario) Scenario {
			sc.ChunkSize = SectionChunksSize
			return sc
		},
		NA: ChunksNA,
	})
	const lostChunk = "the worker dies holding the chunk of jobs 0, 1 and 2 (mapstar runs them in one task and sends their values together): nothing answers any of the three"
	expectSection("chunks", pools.Naive, map[When]Expectation{
		{raises, faults.TaskRun}:   raised(ErrKindTask, "mapstar stops the chunk at job 2's error, which is the chunk's result"+mapRaises26),
		{exits, faults.TaskRun}:    hang("SystemExit is no Exception: the worker exits holding the chunk of jobs 0 to 2, which 2.6 never answers"),
		{dies, faults.TaskRun}:     hang(lostChunk + "; 2.6 never replaces the worker"),
		{dies, faults.ResultWrite}: hang(tornFrame + ": the frame carries the chunk's three values, and nothing answers jobs 0 to 2"),
	})
	expectSection("chunks", pools.Respawn, map[When]Expectation{
		{raises, faults.TaskRun}:   raised(ErrKindTask, "mapstar stops the chunk at job 2's error, which is the chunk's result"+mapRaises3x),
		{exits, faults.TaskRun}:    hang("the worker catches only Exception: SystemExit ends it holding the chunk of jobs 0 to 2; its replacement never saw the chunk"),
		{dies, faults.TaskRun}:     hang(lostChunk + "; the replacement never saw the chunk (3.11 _maintain_pool)"),
		{dies, faults.ResultWrite}: hang(tornFrame + ": the frame carries the chunk's three values; " + lostJob27),
	})
	// ProcessPoolExecutor.map(chunksize=3), CPython 3.11 process.py:
	// _get_chunks cuts jobs 0-2 and 3-5, each chunk one future whose
	// worker runs _process_chunk (`[fn(*args) for args in chunk]`), and
	// _chain_from_iterable_of_lists yields a chunk's values only once its
	// list is in; _base.py's result_iterator raises at the first failed
	// future in order and cancels the later ones still pending.
	const ffChunk = "_process_chunk runs jobs 0, 1 and 2 as one call (`[fn(*args) for args in chunk]`); "
	const ffRaised = ": chunk 0's future carries it and result_iterator raises it first (_base.py), so jobs 0 and 1, computed, are never delivered (_chain_from_iterable_of_lists yields none of a failed chunk), and chunk 1 (jobs 3 to 5) is cancelled or not delivered"
	expectSection("chunks", pools.FailFast, map[When]Expectation{
		{raises, faults.TaskRun}:   raised(ErrKindTask, ffChunk+"job 2's error ends the chunk and _process_worker catches it (BaseException)"+ffRaised),
		{exits, faults.TaskRun}:    raised(ErrKindExit, ffChunk+"_process_worker catches BaseException: job 2's SystemExit ends the chunk as its error"+ffRaised),
		{dies, faults.TaskRun}:     raised(ErrKindBroken, ffChunk+"the worker dies holding the chunk; "+brokeDies),
		{dies, faults.ResultWrite}: hang(ffTorn),
	})
	// loky 3.3's map is CPython's (process_executor.py: _get_chunks,
	// _process_chunk, _chain_from_iterable_of_lists, then
	// concurrent.futures.Executor.map); only a death reads differently.
	expectSection("chunks", pools.Loky, map[When]Expectation{
		{raises, faults.TaskRun}:   raised(ErrKindTask, ffChunk+"job 2's error ends the chunk and loky's _process_worker catches it (BaseException)"+ffRaised),
		{exits, faults.TaskRun}:    raised(ErrKindExit, ffChunk+"loky's _process_worker catches BaseException: job 2's SystemExit ends the chunk as its error"+ffRaised),
		{dies, faults.TaskRun}:     raised(ErrKindBroken, ffChunk+"the worker dies holding the chunk; "+lokyTerminated),
		{dies, faults.ResultWrite}: hang(ffTorn),
	})
}

// ffTorn: a death mid-frame, for CPython 3.11's and loky 3.3's manager.
const ffTorn = "the chunk's three values travel in one result frame (_sendback_result of _process_chunk's list): the worker dies mid-frame and the manager, reading it itself (_ExecutorManagerThread.wait_result_broken_or_wakeup: result_reader.recv(), CPython 3.11 and loky 3.3 alike), waits for bytes only the dead worker could write, never looking at the sentinels again; jobs 0 to 2 are never answered"

// chunkNote names the unresolved jobs of a chunked map, which a death
// loses together: what every run of the scenario shows, unless which
// results came first is a race.
func chunkNote(o Outcome) string {
	if o.Scenario.ChunkSize <= 1 || CountsRace(o.ErrorKinds(), o.Causes) {
		return ""
	}
	var jobs []int
	for _, j := range o.Jobs {
		if j.State == JobUnresolved {
			jobs = append(jobs, j.Job)
		}
	}
	if len(jobs) == 0 {
		return ""
	}
	return fmt.Sprintf("unresolved with chunksize=%d: %s %s", o.Scenario.ChunkSize, plural(len(jobs), "job", "jobs"), joinInts(jobs))
}
