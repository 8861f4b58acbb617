package pools

import "context"

// PebbleChunkFutures schedules ts in chunks on a pebble pool as
// MapChunks does and returns every job's own future, for a test that
// looks past the job at which the caller's iteration raises.
func PebbleChunkFutures(ctx context.Context, p Pool, ts []Task, chunksize int) ([]*Future, error) {
	return p.(*pebblePool).scheduleChunks(ctx, ts, chunksize)
}
