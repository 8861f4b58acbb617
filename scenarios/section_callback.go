package scenarios

import (
	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// The callback section: apply_async with callback and error_callback
// (ProcessPoolExecutor: submit and add_done_callback), where a job's
// outcome reaches the program through a callback that runs on one of the
// pool's own threads.
func init() {
	DefineSection(Section{
		Name: "callback", Order: 10,
		Title: "Callbacks: apply_async(callback=, error_callback=), add_done_callback",
		Doc: "Each job is submitted alone with a callback and an error callback: `Pool.apply_async(f, (i,), callback=cb, error_callback=ecb)` " +
			"(2.6 has no `error_callback`), `ProcessPoolExecutor.submit` then `Future.add_done_callback` (loky and pebble's `schedule` alike); " +
			"the caller waits for every job's result and callback. `Pool` runs the callback on its result-handler thread inside " +
			"`ApplyResult._set`, before the job is marked ready, and `_handle_results` catches only `KeyError` around it; " +
			"`ProcessPoolExecutor` runs it after `set_result` in `Future._invoke_callbacks`, which logs an exception and goes on. " +
			"`raise@callback` makes job 2's callback raise (python/cpython issue 83371).",
		Rows:  []Row{{"raise", faults.TaskRun}, {"sigkill", faults.TaskRun}, {"segfault", faults.TaskRun}, {"raise", faults.ResultDecode}, {"raise", faults.Callback}},
		Shape: func(sc Scenario) Scenario { sc.Wait = WaitCallback; return sc },
	})
	const (
		cb26 = "2.6's ApplyResult._set calls the callback only on a success (there is no error_callback) and marks the job ready with its error: get() raises it"
		cb3x = "3.11's ApplyResult._set calls the error_callback with the error, then marks the job ready: get() raises it"
		// cpython#83371, as the models follow it.
		cbDies = "job 2's callback raises inside ApplyResult._set (`self._callback(self._value)`, before `self._event.set()`), " +
			"and _handle_results guards `cache[job]._set(i, obj)` only with `except KeyError`: the result-handler thread dies, " +
			"job 2 stays in the cache never ready, and no later result is read (python/cpython issue 83371"
	)
	expectSection("callback", pools.Naive, map[When]Expectation{
		{raises, faults.TaskRun}:      raised(ErrKindTask, "the worker catches Exception and sends the error as job 2's result; "+cb26),
		{dies, faults.TaskRun}:        hang(lostJob + "; neither the callback nor get() is ever answered"),
		{raises, faults.ResultDecode}: hang(deadRead),
		{raises, faults.Callback}:     hang(cbDies + "; 2.6 alike)"),
	})
	expectSection("callback", pools.Respawn, map[When]Expectation{
		{raises, faults.TaskRun}:      raised(ErrKindTask, "the worker catches Exception and sends the error as job 2's result; "+cb3x),
		{dies, faults.TaskRun}:        hang(lostJob27 + "; neither callback runs"),
		{raises, faults.ResultDecode}: hang(deadRead),
		{raises, faults.Callback}:     hang(cbDies + "; 3.11 has no guard there: PR 155777 makes the callback's error the job's result only in 3.16)"),
	})
	expectSection("callback", pools.FailFast, map[When]Expectation{
		{raises, faults.TaskRun}:      raised(ErrKindTask, "the worker sends the error; Future.set_exception, then _invoke_callbacks runs the done-callback, and the pool goes on"),
		{dies, faults.TaskRun}:        raised(ErrKindBroken, brokeDies+"; terminate_broken sets each future's exception, and each done-callback runs"),
		{raises, faults.ResultDecode}: raised(ErrKindBroken, brokeRead+"; each done-callback runs with it"),
		{raises, faults.Callback}: raised(ErrKindCallback, "Future._invoke_callbacks catches Exception around each done-callback and logs it "+
			"(LOGGER.exception('exception calling callback for %r', self)); job 2's value was set before, and the manager goes on: only the caller's record of job 2 carries its callback's error"),
	})
	expectSection("callback", pools.Tracked, map[When]Expectation{
		{raises, faults.TaskRun}:      raised(ErrKindTask, "the error is job 2's result, and its callback gets it"),
		{dies, faults.TaskRun}:        raised(ErrKindWorkerLost, "the parent knows the dead worker held job 2: job 2 fails with WorkerLost, and its callback gets it"),
		{raises, faults.ResultDecode}: raised(ErrKindRead, "job 2's result cannot be decoded: that worker is replaced, job 2 fails, and its callback gets it"),
		{raises, faults.Callback}:     raised(ErrKindCallback, "tracked runs job 2's callback as the job resolves and makes its error job 2's result (CallbackError): that job fails alone, and the pool goes on (as python/cpython PR 155777 does for Pool in 3.16)"),
	})
}
