package pools

// A fault that strikes inside pebble's writer mutex (result-encode,
// result-write) races with the other workers twice: an earlier job's
// result may still be waiting for that mutex (awaitEarlierResults), and
// another worker may take, run and answer a later job before the struck
// worker's send_result takes the mutex. pebble's send_result follows the
// function at once, so the later job almost never wins; the model takes
// that side deterministically: a worker whose task has only such faults
// keeps the channel's reader mutex from its task_transaction until it has
// the writer mutex, so no worker receives a later task meanwhile (the
// earlier jobs' results need only the writer mutex). It lets the reader
// mutex go before it strikes: at the strike it holds the writer mutex
// alone, as send_result does.

// keepsReaderToStrike reports whether every trigger of the task, past
// its decoding, strikes inside the writer mutex, and one does.
func keepsReaderToStrike(calls []wireTask) bool {
	strikes := false
	for _, c := range calls {
		for _, t := range c.Trigs {
			switch Point(t.At) {
			case PointResultEncode, PointResultWrite:
				strikes = true
			case PointTaskDecode:
				// fired inside the transaction, before the ACK
			default:
				return false
			}
		}
	}
	return strikes
}

// endTransactionFor ends task_transaction after the ACK: it releases
// both mutexes, or only the writer mutex when the task keeps the reader
// mutex to strike.
func (w *worker) endTransactionFor(calls []wireTask) {
	if keepsReaderToStrike(calls) {
		w.reg.Lock(lockResultWrite).Release()
		return
	}
	w.unlockTransaction()
}

// dropKeptReader lets go the reader mutex if this worker kept it.
func (w *worker) dropKeptReader() {
	if l := w.reg.Lock(lockTaskRead); l.Holder() == int(w.pid) {
		l.Release()
	}
}
