package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// pebble in the chunks section: ProcessPool.map(f, jobs, chunksize=3)
// (pebble 5.0, pebble/pool/process.py ProcessPool.map, base_pool.py
// iter_chunks, map_results, MapResults, chunk_result): iter_chunks cuts
// jobs 0-2 and 3-5, each chunk is one schedule of process_chunk, so one
// task, one ACK (task_transaction) and one Result; the worker that
// acknowledged the first chunk runs jobs 0, 1 and 2 in order
// (process_chunk: `[process_execute(function, *args) for args in
// chunk]`). The caller iterates map(...).result(), a MapResults that
// chains chunk_result of each chunk's future in order and raises at the
// first item that is an Exception.
func init() {
	const chunk = "process_chunk runs jobs 0, 1 and 2 as one task in the worker that acknowledged it; "
	const expired = ", after the chunk's ACK was handled (the model takes the side of pebble's race between the pool manager and the message manager that the real pool almost always takes): inspect_workers reports it (exit code not 0), handle_worker_expiration finds the chunk by its worker_id (find_expired_task) and task_done sets ProcessExpired on the chunk's future, and create_workers replaces the worker; chunk_result returns `(error, )` for it, so MapResults raises at job 0, and jobs 0 and 1, computed, are never delivered"
	expectSection("chunks", pools.Pebble, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, chunk+"process_execute catches job 2's Exception and returns it (a RemoteException) as the third item of the chunk's list, "+
			"which is the chunk's result; MapResults yields jobs 0 and 1 and raises at job 2 (`if isinstance(result, Exception): raise result`); the worker goes on"),
		{exits, faults.TaskRun}: raised(ErrKindWorkerLost, chunk+"process_execute catches Exception, not SystemExit: job 2's SystemExit escapes process_chunk and worker_process "+
			"(which catches OSError, RuntimeError and EOFError) and the worker exits 2"+expired),
		{dies, faults.TaskRun}: raised(ErrKindWorkerLost, chunk+"the worker is killed running job 2"+expired),
		{dies, faults.ResultWrite}: raised(ErrKindWorkerLost, chunk+"the chunk's list of three values is one Result message: the worker is killed half-way through it, "+
			"holding the channel's writer mutex (WorkerChannel.send)"+expired+"; the message manager waits for the rest of the torn message, "+
			"and the second chunk's result, unless it went out first, waits behind the dead writer mutex, but the map has raised at job 0 already"),
	})
}
