package pools

// wstate is what a worker process is doing, as it reports in its slot.
type wstate uint32

const (
	wStarting wstate = iota
	wWaitTaskLock
	wReadTask
	wDecodeTask
	wRunTask
	wEncodeResult
	wWaitResultLock
	wWriteResult
	wExiting
	wInit // running the pool's initializer, before any task
	// wStartLock: blocked before its first task on a lock it inherited
	// held (the fork-held-lock fault); its slot's StartArg is the holder.
	wStartLock
)

var wstateNames = [...]string{
	wStarting:       "starting",
	wWaitTaskLock:   "waiting for the task-queue read lock",
	wReadTask:       "reading the task pipe",
	wDecodeTask:     "decoding a task",
	wRunTask:        "running a task",
	wEncodeResult:   "encoding a result",
	wWaitResultLock: "waiting for the result-queue write lock",
	wWriteResult:    "writing the result pipe",
	wExiting:        "exiting",
	wInit:           "running the initializer",
	wStartLock:      "blocked at start on a lock inherited held from the parent",
}

func (s wstate) String() string {
	if int(s) < len(wstateNames) {
		return wstateNames[s]
	}
	return "unknown"
}

// phase names the part of a job a worker was in, for WorkerLost.
func (s wstate) phase() string {
	switch s {
	case wReadTask, wDecodeTask:
		return "task-decode"
	case wRunTask:
		return "task-run"
	case wEncodeResult:
		return "result-encode"
	case wWaitResultLock, wWriteResult:
		return "result-write"
	}
	return s.String()
}
