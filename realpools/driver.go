package realpools

import (
	_ "embed"
	"os"
	"path/filepath"
)

// The driver is embedded and written to a fresh directory per run, so
// that any binary can run it and loky's spawned workers can import it by
// module name. The reaper removes the directory when the run's processes
// are gone.
//
//go:embed driver/poolhang_driver.py
var driverSource []byte

const driverFile = "poolhang_driver.py"

func writeDriver() (string, error) {
	dir, err := os.MkdirTemp("", "poolhang-realpools-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(driverPath(dir), driverSource, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

func driverPath(dir string) string { return filepath.Join(dir, driverFile) }
