package frame

import "testing"

// A retiring worker's last result carries its pid after the values
// (_ResultItem.exit_pid); a result without one is encoded as before.
func TestResultExitPID(t *testing.T) {
	for _, pid := range []uint32{0, 1, 4242, 1<<32 - 1} {
		r := Result{Status: StatusOK, Values: [][]byte{{7}, {8, 9}}, ExitPID: pid}
		b, err := EncodeResult(5, r, Trigger{})
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := EncodeResult(5, Result{Status: StatusOK, Values: r.Values}, Trigger{})
		if pid == 0 && string(b) != string(plain) {
			t.Errorf("a result without an exit pid changed its encoding")
		}
		got, err := DecodeResult(b[headerLen:], nil)
		if err != nil || got.ExitPID != pid || len(got.Values) != 2 || got.Values[1][1] != 9 {
			t.Errorf("exit pid %d: decoded %+v, %v", pid, got, err)
		}
	}
}
