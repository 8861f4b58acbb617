package pools

import "slices"

// exRecycle is billiard's EX_RECYCLE (0x9B): the exit code of a worker
// that leaves Worker.workloop after maxtasksperchild tasks (`return
// EX_RECYCLE if completed == maxtasks else EX_FAILURE`), through
// Worker.__call__'s `sys.exit(self.workloop(pid=pid))` and _do_exit's
// os._exit. The worker handler cleans it like any exited worker
// (Pool._join_exited_workers checks `exitcode is not None`; EX_RECYCLE
// only spares it the error log and the restart count), and
// _repopulate_pool starts a replacement. So a call whose worker_pids
// include the retired pid is marked lost (on_job_process_lost), though
// no worker died: a MapResult keeps the pids of its answered chunks, and
// a map still pending a grace later fails with WorkerLostError (measured
// with billiard 4.1: "Worker exited prematurely: exitcode 0" after 11.4 s
// for a map outliving a retirement; why 0 and not 155: lostExit).
const exRecycle = 155

// lostExit is the exit code on_job_process_lost records for a call whose
// first gone acknowledging pid is pr's: `exitcodes.get(acked_by_gone) or
// 0`, where exitcodes holds only the workers cleaned in this pass. A
// worker cleaned at an earlier pass (one that retired, say) is gone
// (`pid not in all_pids`) but has no entry, so billiard names exit code 0:
// in the maxtasks section the real sigkill cell's WorkerLostError reads
// "Worker exited prematurely: exitcode 0 Job: 0.", job 0's retired worker
// being the first gone pid of MapResult.worker_pids when the killed one
// is cleaned.
func lostExit(pr *proc, cleaned []*proc) Exit {
	if !slices.Contains(cleaned, pr) {
		return Exit{}
	}
	x, _, _ := pr.State()
	return x
}
