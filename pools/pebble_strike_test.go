package pools

import "testing"

// keepsReaderToStrike: only a task whose every fault past its decoding
// strikes inside the writer mutex keeps the reader mutex after its ACK;
// a task-run fault must find the worker holding nothing, as pebble's
// worker does while the function runs.
func TestKeepsReaderToStrike(t *testing.T) {
	at := func(ps ...Point) []wireTask {
		var ts []trig
		for _, p := range ps {
			ts = append(ts, trig{At: uint8(p)})
		}
		return []wireTask{{Trigs: ts}}
	}
	for _, tc := range []struct {
		name  string
		calls []wireTask
		want  bool
	}{
		{"no fault", at(), false},
		{"result-write", at(PointResultWrite), true},
		{"result-encode", at(PointResultEncode), true},
		{"task-decode, then result-write", at(PointTaskDecode, PointResultWrite), true},
		{"task-run and result-write", at(PointTaskRun, PointResultWrite), false},
		{"task-run", at(PointTaskRun), false},
		{"result-decode (in the parent)", at(PointResultDecode), false},
		{"a chunk: result-write in one call, none in another", append(at(PointResultWrite), at()...), true},
		{"a chunk: result-write in one call, task-run in another", append(at(PointResultWrite), at(PointTaskRun)...), false},
	} {
		if got := keepsReaderToStrike(tc.calls); got != tc.want {
			t.Errorf("%s: keepsReaderToStrike = %v, want %v", tc.name, got, tc.want)
		}
	}
}
