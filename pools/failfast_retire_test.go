package pools

import "testing"

// While a map is submitting (mapSubmit's hold), the manager takes no
// result and no death, however ready, but still feeds the call queue.
func TestPlanManagerHeldTakesNoResult(t *testing.T) {
	for _, st := range []managerState{
		{held: true, resultBytes: true, live: 1, pending: 2},
		{held: true, deaths: []bool{true}, pending: 2},
		{held: true, deaths: []bool{false}, resultBytes: true, pending: 2},
	} {
		if pl := planManager(st); pl.acts() {
			t.Errorf("planManager(%+v) = %+v, want no step while a map submits", st, pl)
		}
		st.held = false
		if pl := planManager(st); !pl.acts() {
			t.Errorf("planManager(%+v) = %+v, want a step once the map's submits are in", st, pl)
		}
	}
	if pl := planManager(managerState{held: true, queued: 1, room: true, pending: 1}); !pl.feed {
		t.Errorf("a held manager does not feed: %+v", pl)
	}
}
