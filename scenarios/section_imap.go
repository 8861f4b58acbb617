package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// The imap sections: Pool.imap and Pool.imap_unordered, whose input is
// read lazily by the task handler and whose items come one next() at a
// time, and imap with a chunk size above 1.
func init() {
	rows := []Row{{"raise", faults.TaskRun}, {"sigkill", faults.TaskRun}, {"segfault", faults.TaskRun}, {"raise", faults.ResultDecode}, {"raise", faults.Input}}
	const doc = "The caller calls next() until StopIteration and records each item's value or the error next() raised. " +
		"`Pool` hands its task handler a generator over the input: 3.x's `_guarded_task_generation` turns an exception the input raises " +
		"into one more task that re-raises it (`_helper_reraises_exception`), then `_set_length` ends the iteration; 2.6's generator is bare, " +
		"and `_handle_tasks` guards only `put`. `raise@input` makes the input raise instead of producing job 2."
	DefineSection(Section{
		Name: "imap", Order: 20, Title: "imap: Pool.imap(f, iterable)",
		Doc:   "`Pool.imap(f, iterable)`: items in order (`IMapIterator.next`). " + doc,
		Rows:  rows,
		Shape: func(sc Scenario) Scenario { sc.Wait = WaitIMap; return sc },
		NA:    imapNA,
	})
	DefineSection(Section{
		Name: "imap_unordered", Order: 21, Title: "imap_unordered: Pool.imap_unordered(f, iterable)",
		Doc:   "`Pool.imap_unordered(f, iterable)`: items as they complete (`IMapUnorderedIterator._set`). " + doc,
		Rows:  rows,
		Shape: func(sc Scenario) Scenario { sc.Wait = WaitIMapUnordered; return sc },
		NA:    imapNA,
	})
	DefineSection(Section{
		Name: "imap-chunks", Order: 22, Title: "imap with chunks: Pool.imap(f, iterable, chunksize=2)",
		Doc: "`Pool.imap(f, iterable, chunksize=2)`: the jobs go in chunks [0 1] [2 3] [4 5] (`Pool._get_tasks`), each one task that a worker " +
			"runs with `mapstar`; imap returns a generator that flattens the chunks (`(item for chunk in result for item in chunk)`), " +
			"so the first error ends the iteration, and a death loses a whole chunk: the fault at job 2 strikes the chunk of jobs 2 and 3.",
		Rows: []Row{{"raise", faults.TaskRun}, {"sigkill", faults.TaskRun}, {"segfault", faults.TaskRun}, {"raise", faults.Input}},
		Shape: func(sc Scenario) Scenario {
			sc.Wait, sc.ChunkSize = WaitIMap, 2
			return sc
		},
		NA: func(p pools.Strategy) string {
			if p == pools.Tracked {
				return "tracked sends each task alone: its imap takes no chunk size"
			}
			return imapNA(p)
		},
	})

	const (
		goesOn   = "; next() raises it for item 2 and the caller goes on to the next items"
		lost26   = "the worker dies holding job 2; nothing answers it, "
		inOrder  = "so next() waits for item 2 forever (IMapIterator._set keeps the later items in _unsorted)"
		anyOrder = "so next() waits for a sixth item forever (IMapUnorderedIterator)"
		input26  = "2.6's imap hands _handle_tasks a bare generator (`((result._job, i, func, (x,), {}) for i, x in enumerate(iterable))`), " +
			"and _handle_tasks guards only put (`except IOError`): the input's exception kills the task handler silently, so nothing is sent after item 1 and next() waits forever"
		input3x = "3.x reads the input in _guarded_task_generation: `except Exception as e: yield (result_job, i+1, _helper_reraises_exception, (e,), {})`; " +
			"a worker re-raises it as item 2's result, next() raises it, and _set_length(3) ends the iteration: items 3 to 5 are never produced and carry it"
		inputTracked = "tracked reads the input in the caller as it submits: the exception is item 2's error, and the input ends there (items 3 to 5 carry it)"
	)
	for _, s := range []struct {
		name, wait string
	}{{"imap", inOrder}, {"imap_unordered", anyOrder}} {
		expectSection(s.name, pools.Naive, map[When]Expectation{
			{raises, faults.TaskRun}:      raised(ErrKindTask, "the worker catches Exception and sends the error as job 2's result"+goesOn),
			{dies, faults.TaskRun}:        hang(lost26 + s.wait),
			{raises, faults.ResultDecode}: hang(deadRead),
			{raises, faults.Input}:        hang(input26),
		})
		expectSection(s.name, pools.Respawn, map[When]Expectation{
			{raises, faults.TaskRun}:      raised(ErrKindTask, "the worker catches Exception and sends the error as job 2's result"+goesOn),
			{dies, faults.TaskRun}:        hang("the worker is replaced but job 2 is lost with it, " + s.wait),
			{raises, faults.ResultDecode}: hang(deadRead),
			{raises, faults.Input}:        raised(ErrKindInput, input3x),
		})
		expectSection(s.name, pools.Tracked, map[When]Expectation{
			{raises, faults.TaskRun}:      raised(ErrKindTask, "the error is job 2's result"+goesOn),
			{dies, faults.TaskRun}:        raised(ErrKindWorkerLost, "the parent knows the dead worker held job 2: job 2 fails with WorkerLost, the others come"),
			{raises, faults.ResultDecode}: raised(ErrKindRead, "job 2's result cannot be decoded: that worker is replaced and job 2 fails"),
			{raises, faults.Input}:        raised(ErrKindInput, inputTracked),
		})
	}
	const chunkRaises = "mapstar runs the chunk of jobs 2 and 3 in order and the error ends it: it is the chunk's result, next() raises it, " +
		"and that ends imap's flattening generator, so jobs 2 to 5 carry it"
	expectSection("imap-chunks", pools.Naive, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, chunkRaises),
		{dies, faults.TaskRun}:   hang("the worker dies holding the chunk of jobs 2 and 3: both are lost, nothing answers them, and next() waits for that chunk forever"),
		{raises, faults.Input}:   hang(input26),
	})
	expectSection("imap-chunks", pools.Respawn, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, chunkRaises),
		{dies, faults.TaskRun}:   hang("the worker dies holding the chunk of jobs 2 and 3: it is replaced, but the whole chunk is lost with it, and next() waits for that chunk forever"),
		{raises, faults.Input}: raised(ErrKindInput, "_get_tasks reads the input through islice inside _guarded_task_generation: the exception raised for item 2 "+
			"becomes the task at chunk index 1, which re-raises it; next() raises it, ending the flattening generator, so jobs 2 to 5 carry it"),
	})
}

// imapNA says why pool p, a model or a real pool, has no imap.
func imapNA(p pools.Strategy) string {
	switch p {
	case pools.FailFast, pools.Loky, pools.Pebble:
		return noIMap(p)
	case "py:ProcessPoolExecutor":
		return "ProcessPoolExecutor has no imap: Executor.map submits every item before it returns (`fs = [self.submit(fn, *args) for args in zip(*iterables)]`)"
	case "py:loky":
		return "loky's executor is a ProcessPoolExecutor: no imap, and its map submits every item before it returns"
	case "py:pebble":
		return "pebble's ProcessPool has schedule and map (which reads its whole input into chunks first), no imap"
	}
	return ""
}
