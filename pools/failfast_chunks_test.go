package pools_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/poolhang/poolhang/faults"
	"github.com/poolhang/poolhang/pools"
)

// failfast's MapChunks follows ProcessPoolExecutor.map(chunksize=N)
// (CPython 3.11 concurrent/futures/process.py): _get_chunks cuts the jobs,
// each chunk is one work item whose worker runs _process_chunk (the first
// error ends it), and result_iterator raises at the first failed chunk,
// whose jobs all carry its error; later chunks are not delivered. (A
// death, which stops at its point until the harness strikes, is the
// scenarios' chunks section.)
func TestFailFastMapChunks(t *testing.T) {
	trig := func(kind string, ph faults.Phase) pools.Trigger { return trigger(t, kind, ph) }
	for _, c := range []struct {
		name      string
		chunksize int
		faults    map[int]pools.Trigger
		// failed: the first job of the failed chunk, -1 for none; its
		// chunk ends at failed+chunksize.
		failed int
	}{
		{"no failure", 3, nil, -1},
		{"no failure, a short last chunk", 4, nil, -1},
		{"raise in the first chunk's last job", 3, map[int]pools.Trigger{2: trig("raise", faults.TaskRun)}, 0},
		{"raise in the second chunk", 3, map[int]pools.Trigger{4: trig("raise", faults.TaskRun)}, 3},
		{"sys-exit is caught", 3, map[int]pools.Trigger{2: trig("sys-exit", faults.TaskRun)}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ts := failfastWith(t, 2, 6, c.faults)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := p.(pools.ChunkMapper).MapChunks(ctx, ts, c.chunksize)
			if err != nil {
				t.Fatalf("MapChunks: %v", err)
			}
			for i, r := range out {
				switch {
				case c.failed < 0 || i < c.failed:
					if n, err := pools.Int(r.Value); r.Err != nil || err != nil || n != int64(i*i) {
						t.Errorf("job %d: %v %v, want its value", i, r.Value, r.Err)
					}
				case i < c.failed+c.chunksize:
					var te *pools.TaskError
					var ex *pools.ExitRequest
					if !errors.As(r.Err, &te) && !errors.As(r.Err, &ex) {
						t.Errorf("job %d of the failed chunk: %v, want the chunk's error", i, r.Err)
					}
				case !errors.Is(r.Err, pools.ErrNotDelivered) && !errors.Is(r.Err, pools.ErrMapCancelled):
					t.Errorf("job %d after the failed chunk: %v, want cancelled or not delivered", i, r.Err)
				}
			}
		})
	}
}
