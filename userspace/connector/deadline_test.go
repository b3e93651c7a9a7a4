package connector

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
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

// TestRequestBacklogCountsErrors: errors a Request meets while it waits
// (here a malformed datagram) are kept for Receive within the same bound as
// messages; past it they are dropped and reported as an overrun.
func TestRequestBacklogCountsErrors(t *testing.T) {
	s := &fakeSocket{}
	s.onWrite = func(s *fakeSocket, req *Message) {
		for i := 0; i < maxBacklog; i++ {
			s.queueMsg(t, Message{ID: ID{14, 0x4c1}, Seq: uint32(i)}, Source{Groups: 1 << 19})
		}
		s.queue([]byte{1, 2, 3}, Source{})
	}
	c := newConn(s)
	if _, err := c.Request(t.Context(), &Message{ID: echoID}); !errors.Is(err, errNothingQueued) {
		t.Fatalf("Request: err = %v, want no reply", err)
	}
	for i := 0; i < maxBacklog; i++ {
		if m, _, err := c.Receive(t.Context()); err != nil || m.Seq != uint32(i) {
			t.Fatalf("Receive #%d: seq %d, %v; want the broadcast with seq %d", i+1, m.Seq, err, i)
		}
	}
	_, _, err := c.Receive(t.Context())
	if !errors.Is(err, ErrOverrun) || !strings.Contains(err.Error(), "1 messages dropped") {
		t.Fatalf("Receive after the %d kept messages: err = %v, want ErrOverrun for the one dropped", maxBacklog, err)
	}
	if _, _, err := c.Receive(t.Context()); !errors.Is(err, errNothingQueued) {
		t.Fatalf("Receive after the overrun: err = %v, want nothing left", err)
	}
}

// floodSocket answers each request with one datagram: broadcasts with data,
// then the reply, built without allocating.
type floodSocket struct {
	echoSocket
	broadcasts []byte // n messages, laid end to end
	dgram      []byte
	sent       bool
}

func newFloodSocket(t *testing.T, n int) *floodSocket {
	s := &floodSocket{echoSocket: echoSocket{last: make([]byte, 0, 256)}}
	for i := 0; i < n; i++ {
		s.broadcasts = append(s.broadcasts, msgDatagram(t, Message{ID: ID{14, 0x4c1}, Seq: uint32(i), Data: []byte("data")})...)
	}
	s.dgram = make([]byte, 0, len(s.broadcasts)+256)
	return s
}

func (s *floodSocket) write(b []byte) error {
	_ = s.echoSocket.write(b)
	s.dgram = append(append(s.dgram[:0], s.broadcasts...), s.last...)
	s.sent = true
	return nil
}

func (s *floodSocket) read(b []byte, wait bool) (int, Source, bool, error) {
	if !s.sent {
		return 0, Source{}, false, syscall.EAGAIN
	}
	s.sent = false
	return copy(b, s.dgram), Source{}, false, nil
}

func (s *floodSocket) exchange(w, r []byte) (int, Source, bool, error, error) {
	return exchangeVia(s, w, r)
}

// TestRequestDropsWithoutCopying: once the backlog is full, a message that
// a Request drops is not copied first, so a flood costs no garbage.
func TestRequestDropsWithoutCopying(t *testing.T) {
	c := newConn(newFloodSocket(t, maxBacklog+1))
	var reply Message
	req := &Message{ID: echoID, Data: make([]byte, 8)}
	if err := c.RequestInto(t.Context(), req, &reply); err != nil {
		t.Fatalf("RequestInto with %d broadcasts ahead of the reply: %v", maxBacklog+1, err)
	}
	if len(c.backlog) != maxBacklog {
		t.Fatalf("%d messages kept, want the backlog full (%d)", len(c.backlog), maxBacklog)
	}
	c.sock = newFloodSocket(t, 1)
	allocs := testing.AllocsPerRun(100, func() {
		if err := c.RequestInto(t.Context(), req, &reply); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("RequestInto allocates %.1f times per call dropping a broadcast, want 0", allocs)
	}
}

// TestCancelWakesReceive: cancelling the context of a Receive that waits
// ends it at once with context.Canceled.
func TestCancelWakesReceive(t *testing.T) {
	checkCancelWakesReceive(t, newConn(newChanSocket()))
}

func checkCancelWakesReceive(t *testing.T, c *Conn) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Receive(ctx)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let it wait
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Receive: err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Receive still waiting 5s after its context was cancelled")
	}
}
