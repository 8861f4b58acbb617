// Package privtmp gives a process that links Graphviz a private TMPDIR
// before Graphviz's own init writes its compilation cache there, so that
// the cache is removed with the process's other temporary files instead
// of being left in the system's /tmp.
//
// It works by initialisation order, which the Go specification fixes
// (since Go 1.21): packages are initialised in import-path order among
// those whose imports are done. This package imports only os, so it is
// ready as soon as os is; go-graphviz's WebAssembly package needs wazero,
// which needs os and more, and so is initialised after this one. The
// test TestCacheIsPrivate in package layout checks that it holds.
package privtmp

import "os"

var dir string

func init() {
	d, err := os.MkdirTemp("", "poolhang-graphviz-")
	if err != nil {
		return // Graphviz then uses the system's TMPDIR, as it would anyway
	}
	dir = d
	os.Setenv("TMPDIR", d)
}

// Dir is the private TMPDIR ("" if none could be made). Remove it when
// the process is done: Cleanup.
func Dir() string { return dir }

// Cleanup removes the private TMPDIR and everything in it.
func Cleanup() {
	if dir != "" {
		os.RemoveAll(dir)
	}
}
