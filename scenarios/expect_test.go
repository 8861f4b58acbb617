package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// Every strategy's expectations live in its own file, and a strategy
// without one is told which file to write.
func TestExpectationsAreOneFilePerStrategy(t *testing.T) {
	for _, s := range pools.Strategies() {
		se, ok := expectations[s]
		if !ok {
			t.Errorf("%s: no expectations registered; write %s", s, expectFile(s))
			continue
		}
		if _, err := os.Stat(filepath.Base(se.File)); err != nil {
			t.Errorf("%s: its expectations name %s: %v", s, se.File, err)
		}
	}
	_, err := Expect(Cell{Pool: "imaginary", Kind: "segfault", Phase: faults.TaskRun})
	if err == nil || !strings.Contains(err.Error(), "write scenarios/expect_imaginary.go") {
		t.Errorf("a strategy without expectations: %v, want an error naming scenarios/expect_imaginary.go", err)
	}
	if NeverHangs(Scenario{Pool: "imaginary"}) {
		t.Error("a strategy without expectations is declared never to hang")
	}
}
