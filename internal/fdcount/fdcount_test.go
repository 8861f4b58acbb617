package fdcount

import (
	"os"
	"testing"
)

func TestOpenCountsAFileAndNotThePoller(t *testing.T) {
	before, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	// A pipe is pollable: the first one makes the netpoller, which
	// Open leaves out, so only the pipe's two ends count.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	during, _ := Open()
	r.Close()
	w.Close()
	after, _ := Open()
	if during != before+2 || after != before {
		t.Errorf("descriptors: %d before a pipe, %d with it, %d after; want %d, %d, %d", before, during, after, before, before+2, before)
	}
}
