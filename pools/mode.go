package pools

import (
	"os"
	"sync"
)

// Other roles this binary can be re-executed in, besides a worker: a
// package registers one from init with RegisterMode, and
// MaybeServeWorker, which every main and TestMain calls first, serves it.
var modes struct {
	sync.Mutex
	byEnv map[string]func(value string) (code int, served bool)
}

// RegisterMode makes the binary, when started with environment variable
// env set, run serve(value) instead of itself and exit with its code.
// Call it from an init function. serve must check that its caller meant
// it (a descriptor it was given, say) before it does anything, and
// report served false if not: the binary then goes on as itself.
func RegisterMode(env string, serve func(value string) (code int, served bool)) {
	modes.Lock()
	defer modes.Unlock()
	if modes.byEnv == nil {
		modes.byEnv = map[string]func(string) (int, bool){}
	}
	if _, dup := modes.byEnv[env]; dup || env == workerEnv {
		panic("pools: mode registered twice: " + env)
	}
	modes.byEnv[env] = serve
}

func serveModes() {
	modes.Lock()
	var serve func(string) (int, bool)
	var value string
	for env, fn := range modes.byEnv {
		if v, ok := os.LookupEnv(env); ok {
			serve, value = fn, v
			os.Unsetenv(env) // not inherited by what it starts
			break
		}
	}
	modes.Unlock()
	if serve != nil {
		if code, served := serve(value); served {
			os.Exit(code)
		}
	}
}
