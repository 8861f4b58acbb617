package realpools_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The driver's StarvationGauge holds off a no-answer while the pool waits
// for a CPU, and only then: with every core kept busy by twice as many
// spinning processes, a pool thread that has work (it spins) is starved,
// and one that sleeps on a timer, as a stuck pool's pollers do (mp.Pool's
// worker handler, pebble's pool manager, every 0.1 s), is not.
func TestStarvationGauge(t *testing.T) {
	t.Parallel()
	py := python(t)
	for _, tc := range []struct {
		thread string
		want   string
	}{
		{"spins", "True"},
		{"polls every 0.1 s", "False"},
	} {
		t.Run(strings.ReplaceAll(tc.thread, " ", "-"), func(t *testing.T) {
			out, err := exec.Command(py, "-c", gaugeScript, tc.thread).CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("a pool thread that %s on a loaded machine: starved() = %s, want %s", tc.thread, got, tc.want)
			}
		})
	}
}

// gaugeScript runs the gauge over one second in which a pool thread spins
// or polls while 2 processes per core spin. The burners are the script's
// own children, killed before it prints.
const gaugeScript = `
import os, subprocess, sys, threading, time
sys.path.insert(0, "driver")
import poolhang_driver as d
d._driver_tids.add(threading.get_native_id())
done = threading.Event()
def spin():
    while not done.is_set():
        pass
def poll():
    while not done.wait(0.1):
        pass
threading.Thread(target=spin if sys.argv[1] == "spins" else poll, daemon=True).start()
burners = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(2 * os.cpu_count())]
try:
    time.sleep(0.2)
    g = d.StarvationGauge(workers=False)
    time.sleep(1)
    print(g.starved())
finally:
    for b in burners:
        b.kill()
        b.wait()
    done.set()
`
