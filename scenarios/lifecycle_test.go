package scenarios_test

import (
	"strings"
	"testing"

	"github.com/poolhang/poolhang/pools"
	"github.com/poolhang/poolhang/scenarios"
)

func TestLifecycleKeys(t *testing.T) {
	for _, text := range []string{
		"pool=respawn workers=2 jobs=6 maxtasks=2 wait=map fault=raise@task-run:5",
		"pool=respawn workers=2 jobs=6 chunksize=3 maxtasks=1 initializer=raise wait=map",
		"pool=failfast workers=2 jobs=6 maxtasks=2 initializer=raise wait=get",
		"pool=naive workers=2 jobs=6 initializer=raise wait=join",
		"pool=tracked workers=2 jobs=6 deadline=500ms initializer=raise wait=map",
		"pool=py:mp.Pool workers=2 jobs=6 chunksize=3 maxtasks=2 initializer=raise wait=map",
		"pool=py:ProcessPoolExecutor workers=2 jobs=6 maxtasks=2 wait=map",
		"pool=py:loky workers=2 jobs=6 initializer=raise wait=map",
		"pool=py:pebble workers=2 jobs=6 chunksize=2 maxtasks=3 wait=map",
	} {
		sc, err := scenarios.Parse(text)
		if err != nil || sc.String() != text {
			t.Errorf("%q parsed as %q, %v", text, sc, err)
		}
	}
	for _, tc := range []struct{ text, want string }{
		{"pool=respawn workers=2 jobs=6 maxtasks=0", "maxtasks=0, allowed 1 to 4096"},
		{"pool=respawn workers=2 jobs=6 maxtasks=-1", "maxtasks=-1, allowed 1 to 4096"},
		{"pool=respawn workers=2 jobs=6 maxtasks=lots", `maxtasks="lots" is not a whole number`},
		{"pool=respawn workers=2 jobs=6 maxtasks=5000", "allowed 1 to 4096"},
		{"pool=respawn workers=2 jobs=6 maxtasks=2 maxtasks=3", "maxtasks given twice"},
		{"pool=naive workers=2 jobs=6 maxtasks=2", "naive has none: Python 2.6's Pool has no maxtasksperchild (added in 2.7)"},
		{"pool=tracked workers=2 jobs=6 maxtasks=2", "tracked design does not retire workers"},
		{"pool=py:loky workers=2 jobs=6 maxtasks=2", "loky's ProcessPoolExecutor takes no tasks-per-worker limit"},
		{"pool=respawn workers=2 jobs=6 initializer=ok", `initializer="ok": allowed raise`},
		{"pool=respawn workers=2 jobs=6 initializer=", `initializer="": allowed raise`},
		{"pool=respawn workers=2 jobs=6 initializer=raise fault=sigkill@idle-lock-waiter", "an idle fault cannot strike"},
		{"pool=py:loky workers=2 jobs=6 chunksize=3 wait=get", "wait=get submits each job alone"},
		{"pool=py:mp.Pool workers=2 jobs=6 chunksize=3 wait=get", "wait=get submits each job alone"},
		{"pool=respawn workers=2 jobs=6 nice=1", "keys: pool, workers, jobs, payload, chunksize, maxtasks, initializer"},
	} {
		_, err := scenarios.Parse(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.text, err, tc.want)
		}
	}
	got, err := scenarios.ReadReplay(strings.NewReader("# the sections' keys\npool=respawn workers=2 jobs=6 maxtasks=2 initializer=raise wait=map\n"))
	if err != nil || len(got) != 1 || got[0].MaxTasks != 2 || got[0].Initializer != scenarios.InitRaise {
		t.Errorf("replay file with the new keys: %v, %v", got, err)
	}
}

func TestSectionsShapeRealPools(t *testing.T) {
	for _, s := range scenarios.Sections() {
		for _, p := range []string{"py:mp.Pool", "py:ProcessPoolExecutor", "py:billiard", "py:loky", "py:pebble"} {
			if s.NA != nil && s.NA(pool(p)) != "" {
				continue
			}
			for _, r := range s.Rows {
				sc := s.Shape(scenarios.Standard(pool(p), r.Kind, r.Phase))
				if _, err := scenarios.Parse(sc.String()); err != nil {
					t.Errorf("section %s on %s: %s does not parse: %v", s.Name, p, sc, err)
				}
			}
		}
	}
}

func pool(name string) pools.Strategy { return pools.Strategy(name) }
