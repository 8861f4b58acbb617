package conformance_test

import (
	"os"
	"testing"

	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/realpools"
)

func TestMain(m *testing.M) {
	pools.MaybeServeWorker()
	realpools.MaybeServeReaper()
	os.Exit(m.Run())
}
