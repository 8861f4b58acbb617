package pools

// A Role is the part a party plays in a pool. Every party of a snapshot
// has one; Outside and Clock are the roles of releasers that are not
// parties.
type Role uint8

const (
	_                 Role = iota
	RoleCaller             // the program using the pool
	RoleTaskHandler        // Pool._handle_tasks: writes the task pipe
	RoleResultHandler      // Pool._handle_results: reads the result pipe
	RoleWorkerHandler      // Pool._handle_workers: reaps and replaces workers
	RoleManager            // ProcessPoolExecutor's _ExecutorManagerThread
	RoleFeeder             // the call queue's feeder thread: writes the task pipe
	RoleSupervisor         // tracked's supervisor
	RoleReader             // tracked's reader of one worker's result pipe
	RoleWorker             // a worker process
	RoleOutside            // something outside the pool: a harness, the OOM killer
	RoleClock              // time, which ends a sleep until a deadline
)

var roleNames = [...]string{
	RoleCaller:        "caller",
	RoleTaskHandler:   "task handler",
	RoleResultHandler: "result handler",
	RoleWorkerHandler: "worker handler",
	RoleManager:       "manager",
	RoleFeeder:        "feeder",
	RoleSupervisor:    "supervisor",
	RoleReader:        "reader",
	RoleWorker:        "worker",
	RoleOutside:       "outside",
	RoleClock:         "clock",
}

func (r Role) String() string {
	if int(r) < len(roleNames) && roleNames[r] != "" {
		return roleNames[r]
	}
	return "no role"
}

// WritesTasks reports whether the role writes tasks to the workers: if
// it dies, no task reaches a worker again.
func (r Role) WritesTasks() bool { return r == RoleTaskHandler || r == RoleFeeder }

// A WaitKind is what a blocked party waits for.
type WaitKind uint8

const (
	_                WaitKind = iota
	WaitJobResult             // a caller waits for a job (Wait.Job) or a map
	WaitGoroutine             // join waits for a goroutine or a worker to end
	WaitLock                  // a process-shared lock (Wait.Lock, Wait.Holder)
	WaitTaskPipe              // a worker reads a task
	WaitResultPipe            // a reader of results waits for one
	WaitPipeRoom              // room to write a pipe
	WaitFrameRest             // the rest of a frame already begun
	WaitEvents                // a handler or manager waits for any of several events
	WaitSignal                // a worker stopped at a point for a signal from outside
	WaitNeverReturns          // a task that never returns
	WaitDeadline              // a sleep until an armed deadline
	WaitStopped               // a worker stopped by SIGSTOP (state T)
)

var waitKindNames = [...]string{
	WaitJobResult:    "job result",
	WaitGoroutine:    "goroutine end",
	WaitLock:         "lock",
	WaitTaskPipe:     "task pipe",
	WaitResultPipe:   "result pipe",
	WaitPipeRoom:     "pipe room",
	WaitFrameRest:    "rest of a frame",
	WaitEvents:       "events",
	WaitSignal:       "signal",
	WaitNeverReturns: "never returns",
	WaitDeadline:     "deadline",
	WaitStopped:      "stopped (T)",
}

func (k WaitKind) String() string {
	if int(k) < len(waitKindNames) && waitKindNames[k] != "" {
		return waitKindNames[k]
	}
	return "no wait kind"
}
