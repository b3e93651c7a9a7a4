package connector

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCtxLockExcludes has goroutines take the lock, some with contexts
// that end while they wait: every one that gets it is alone in it, none
// waits past its context, and the lock is free at the end. Run with -race.
func TestCtxLockExcludes(t *testing.T) {
	l := newCtxLock()
	var inside, gave, got atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 500; j++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(j%3)*50*time.Microsecond)
				if j%5 == 0 {
					ctx = context.Background()
				}
				if err := l.lock(ctx); err != nil {
					gave.Add(1)
					cancel()
					continue
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d holders of the lock at once", n)
				}
				got.Add(1)
				time.Sleep(time.Duration(j%2) * 10 * time.Microsecond)
				inside.Add(-1)
				l.unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if err := l.lock(context.Background()); err != nil || l.waiters.Load() != 0 {
		t.Fatalf("after %d takes and %d give-ups: lock %v, %d waiters counted; want it free", got.Load(), gave.Load(), err, l.waiters.Load())
	}
	t.Logf("%d takes, %d gave up", got.Load(), gave.Load())
}

// TestDoneContextSendsNothing: a Request whose context is already done
// fails without sending, so that nothing it asks of the kernel happens
// after its caller gave up.
func TestDoneContextSendsNothing(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	tests := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"past its deadline", expired, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &fakeSocket{onWrite: func(s *fakeSocket, req *Message) { s.queueMsg(t, reply(req, req.Seq+1), Source{}) }}
			c := newConn(s)
			_, err := c.Request(tt.ctx, &Message{ID: echoID})
			if !errors.Is(err, tt.want) || len(s.writes) != 0 {
				t.Fatalf("Request with a context %s: err = %v and %d datagrams sent; want %v and none sent", tt.name, err, len(s.writes), tt.want)
			}
		})
	}
}
