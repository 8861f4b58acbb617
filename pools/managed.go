package pools

import (
	"context"
	"errors"
	"sync"
)

// managed is what the pools run by one managing goroutine share (failfast's
// manager, tracked's supervisor): how submits are admitted, Close, the
// prologue of Join and Terminate, and the channels that wake and stop the
// manager.
type managed struct {
	*core
	manager string // the managing goroutine's party id

	// Under core.mu.
	closing bool  // Close or Terminate was called
	broken  error // set once the pool has failed for good

	wake        chan struct{} // capacity 1
	stop        chan struct{}
	stopOnce    sync.Once
	managerDone chan struct{}
}

func newManaged(c *core, manager string) managed {
	return managed{core: c, manager: manager, wake: make(chan struct{}, 1), stop: make(chan struct{}), managerDone: make(chan struct{})}
}

// submit admits a job, hands it to enqueue under core.mu, and wakes the
// manager.
func (m *managed) submit(ctx context.Context, t Task, enqueue func(queued)) (*Future, error) {
	return m.admit(ctx, t, func() error {
		if m.broken != nil {
			return m.broken
		}
		if m.closing || m.stopped() {
			return ErrClosed
		}
		return nil
	}, func(q queued) {
		enqueue(q)
		notify(m.wake)
	})
}

// Close stops accepting tasks; the manager ends the workers once the work
// is done (ProcessPoolExecutor.shutdown(wait=False)).
func (m *managed) Close() error {
	m.mu.Lock()
	m.closing = true
	m.reg.Bump()
	m.mu.Unlock()
	notify(m.wake)
	return nil
}

// Join waits for the manager to finish and reaps the workers (the wait
// half of shutdown(wait=True)).
func (m *managed) Join(ctx context.Context) error {
	m.mu.Lock()
	running := !m.closing && m.broken == nil
	m.mu.Unlock()
	if running {
		return errors.New("pools: Join on a running pool: Close or Terminate first")
	}
	if err := m.waitG(ctx, m.manager, m.managerDone); err != nil {
		return err
	}
	return m.joinRest(ctx, nil)
}

// terminate runs end once, unless the pool was joined already: every
// pending job fails with ErrTerminated, the manager is stopped, and end
// kills and closes what the strategy holds.
func (m *managed) terminate(end func()) error {
	return m.terminateOnce(func() {
		m.mu.Lock()
		m.closing = true
		m.failAllLocked(ErrTerminated)
		m.mu.Unlock()
		end()
	})
}

func (m *managed) stopped() bool { return isClosed(m.stop) }

func (m *managed) stopManager() { m.stopOnce.Do(func() { close(m.stop) }) }
