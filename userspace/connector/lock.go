package connector

import (
	"context"
	"sync/atomic"
)

// ctxLock is a mutex whose Lock gives up when a context is done, for the
// receive lock, which a blocked Receive holds for as long as it waits.
// Taking it free costs one compare-and-swap, as sync.Mutex's does; only a
// caller that finds it held waits on a channel.
type ctxLock struct {
	held    atomic.Bool
	waiters atomic.Int32
	// wake holds a token while a waiter may have been passed over by an
	// unlock; a waiter that takes one tries again.
	wake chan struct{}
}

func newCtxLock() ctxLock { return ctxLock{wake: make(chan struct{}, 1)} }

// lock takes the lock, or returns ctx's error if ctx is done first. The
// fast path is written out where it counts, as
//
//	if !l.tryLock() { err = l.lockSlow(ctx) }
//
// since lock itself is too big for the compiler to inline.
func (l *ctxLock) lock(ctx context.Context) error {
	if l.tryLock() {
		return nil
	}
	return l.lockSlow(ctx)
}

// tryLock takes the lock if it is free.
func (l *ctxLock) tryLock() bool { return l.held.CompareAndSwap(false, true) }

func (l *ctxLock) lockSlow(ctx context.Context) error {
	// An unlock stores false and then looks for waiters; a waiter counts
	// itself and then tries the lock: one of the two sees the other.
	l.waiters.Add(1)
	defer l.waiters.Add(-1)
	for {
		if l.held.CompareAndSwap(false, true) {
			return nil
		}
		select {
		case <-l.wake:
		case <-ctx.Done():
			// A token sent meanwhile stays for another waiter.
			return ctx.Err()
		}
	}
}

func (l *ctxLock) unlock() {
	l.held.Store(false)
	if l.waiters.Load() > 0 {
		l.signal()
	}
}

func (l *ctxLock) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}
