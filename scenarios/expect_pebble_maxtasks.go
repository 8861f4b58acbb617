package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// pebble in the maxtasks section: ProcessPool(max_tasks=2) (pebble 5.0,
// pebble/pool/process.py). worker_get_next_task yields tasks `while
// max_tasks == 0 or next(counter) < max_tasks`: after its second result
// is sent the worker's loop ends, worker_process returns and the process
// exits 0, holding no task and no channel mutex. The pool manager's
// inspect_workers pops it but reports only `w.exitcode != 0`, so
// handle_worker_expiration is not called for it, and create_workers
// starts a replacement. The job fault is on job 5, which a replacement
// runs.
func init() {
	const retire = "each first worker retires after 2 tasks (worker_get_next_task: `next(counter) < max_tasks` fails after its second result is sent), " +
		"exits 0 with no task in hand, which inspect_workers does not report (`if w.exitcode != 0`), and create_workers replaces it; job 5 runs in a replacement"
	expectSection("maxtasks", pools.Pebble, map[When]Expectation{
		{raises, faults.TaskRun}: raised(ErrKindTask, retire+": process_execute catches its error and sends it as job 5's result; the map yields jobs 0 to 4 and raises at job 5"),
		{dies, faults.TaskRun}: raised(ErrKindWorkerLost, retire+", which is killed after its ACK was handled: inspect_workers reports it, "+
			"handle_worker_expiration finds job 5 by its worker_id (find_expired_task) and task_done sets ProcessExpired on it, "+
			"and create_workers replaces the worker; the map yields jobs 0 to 4 and raises at job 5"),
	})
}
