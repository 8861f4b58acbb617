package pools

import "errors"

func startTracked(o Options) (Pool, error) { return nil, errors.New("pools: tracked is not built yet") }
