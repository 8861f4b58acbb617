// Package fdcount counts the descriptors this process holds open, for
// the tests that check a pool, a run or a harness leaves none behind.
package fdcount

import (
	"os"
	"testing"
)

// Open returns how many descriptors this process has open, leaving out
// the Go runtime's netpoller: its epoll instance and eventfd are made at
// the first pollable file and never closed, so a test that happens to be
// the first to need them is not leaking them.
func Open() (int, error) {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range es {
		switch l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l {
		case "anon_inode:[eventpoll]", "anon_inode:[eventfd]":
			continue
		}
		n++
	}
	return n, nil
}

// Count is Open for a test: it fails tb if the count cannot be read.
func Count(tb testing.TB) int {
	tb.Helper()
	n, err := Open()
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
