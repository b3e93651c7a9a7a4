package connector

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// chanSocket is a fake socket with a real socket's waiting: a read that
// waits blocks until a datagram is queued, the read deadline passes, or the
// socket is closed. pastDelay, if set, delays setting a deadline in the
// past, as a slow AfterFunc callback would: the read is woken at once, the
// deadline lands later.
type chanSocket struct {
	mu        sync.Mutex
	in        []fakeDatagram
	deadline  time.Time
	closed    bool
	wake      chan struct{}
	pastDelay time.Duration
	writes    int
}

func newChanSocket() *chanSocket { return &chanSocket{wake: make(chan struct{}, 1)} }

func (s *chanSocket) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *chanSocket) push(b []byte, src Source) {
	s.mu.Lock()
	s.in = append(s.in, fakeDatagram{b: b, src: src})
	s.mu.Unlock()
	s.kick()
}

func (s *chanSocket) write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.writes++
	return nil
}

func (s *chanSocket) read(b []byte, wait bool) (int, Source, bool, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, Source{}, true, net.ErrClosed
		}
		if len(s.in) > 0 {
			d := s.in[0]
			s.in = s.in[1:]
			s.mu.Unlock()
			if d.err != nil {
				return 0, Source{}, true, d.err
			}
			return copy(b, d.b), d.src, true, nil
		}
		if !wait {
			s.mu.Unlock()
			return 0, Source{}, true, syscall.EAGAIN
		}
		dl := s.deadline
		s.mu.Unlock()
		var timer <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, Source{}, true, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-s.wake:
		case <-timer:
		}
	}
}

func (s *chanSocket) exchange(w, r []byte) (int, Source, bool, error, error) {
	return exchangeVia(s, w, r)
}

func (s *chanSocket) setReadDeadline(t time.Time) error {
	if !t.IsZero() && time.Until(t) <= 0 && s.pastDelay > 0 {
		s.kick()
		time.Sleep(s.pastDelay)
	}
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	s.kick()
	return nil
}

func (s *chanSocket) portID() uint32 { return 4242 }

func (s *chanSocket) close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.kick()
	return nil
}

func (s *chanSocket) release() {}

func msgDatagram(t testing.TB, m Message) []byte {
	t.Helper()
	b, err := appendNetlink(nil, &m, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCancelledReceiveLeavesNoDeadline cancels a waiting Receive while a
// datagram arrives, with the cancellation's callback still setting its past
// deadline after the read returned: a later Receive without a deadline must
// wait for its message, not fail at once.
func TestCancelledReceiveLeavesNoDeadline(t *testing.T) {
	s := newChanSocket()
	s.pastDelay = 20 * time.Millisecond
	c := newConn(s)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Receive(ctx)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // let it wait
	go cancel()                       // its callback wakes the read, then sleeps
	s.push(msgDatagram(t, Message{ID: echoID, Seq: 1}), Source{})
	<-done

	go func() {
		time.Sleep(50 * time.Millisecond)
		s.push(msgDatagram(t, Message{ID: echoID, Seq: 2}), Source{})
	}()
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	for {
		m, _, err := c.Receive(rctx)
		if err != nil {
			t.Fatalf("Receive after a cancelled Receive: %v", err)
		}
		if m.Seq == 2 {
			return
		}
	}
}

// TestRequestBacklogBounded has a Request wait while a flood of broadcasts
// arrives: what is kept for Receive is bounded, and what was dropped is
// reported as an overrun after the kept messages.
func TestRequestBacklogBounded(t *testing.T) {
	const flood = 20000
	s := &fakeSocket{}
	s.onWrite = func(s *fakeSocket, req *Message) {
		for i := 0; i < flood; i++ {
			s.queueMsg(t, Message{ID: ID{14, 0x4c1}, Seq: uint32(i)}, Source{Groups: 1 << 19})
		}
	}
	c := newConn(s)
	if _, err := c.Request(t.Context(), &Message{ID: echoID}); !errors.Is(err, errNothingQueued) {
		t.Fatalf("Request: err = %v, want no reply", err)
	}
	kept, overruns := 0, 0
	for {
		_, _, err := c.Receive(t.Context())
		if errors.Is(err, errNothingQueued) {
			break
		}
		if errors.Is(err, ErrOverrun) {
			overruns++
			if kept == 0 {
				t.Fatal("overrun reported before the kept messages")
			}
			continue
		}
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		if overruns > 0 {
			t.Fatal("a kept message after the overrun")
		}
		kept++
	}
	if kept > 1024 || overruns != 1 {
		t.Fatalf("after %d broadcasts during a Request: %d kept for Receive (want at most 1024), %d overruns reported (want 1)", flood, kept, overruns)
	}
}

// TestRequestIntoDeadline: the deadline ends a wait for a reply that does
// not come, as context.DeadlineExceeded, and leaves no deadline behind.
func TestRequestIntoDeadline(t *testing.T) {
	s := newChanSocket()
	c := newConn(s)
	var reply Message
	start := time.Now()
	err := c.RequestIntoDeadline(t.Context(), &Message{ID: echoID}, &reply, start.Add(30*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > time.Second {
		t.Fatalf("gave up after %v, want 30ms", d)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		s.push(msgDatagram(t, Message{ID: echoID, Seq: 2}), Source{})
	}()
	if _, _, err := c.Receive(context.Background()); err != nil {
		t.Fatalf("Receive after the deadline: %v", err)
	}
	// A deadline already past gives up without waiting; a later one
	// than ctx's gives way to ctx's.
	if err := c.RequestIntoDeadline(t.Context(), &Message{ID: echoID}, &reply, time.Now().Add(-time.Second)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past deadline: err = %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := c.RequestIntoDeadline(ctx, &Message{ID: echoID}, &reply, time.Now().Add(time.Hour)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ctx's deadline first: err = %v", err)
	}
}
