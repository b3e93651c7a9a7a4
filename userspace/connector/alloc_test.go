package connector

import (
	"context"
	"encoding/binary"
	"testing"
	"time"
)

// echoSocket answers every datagram with itself, ack set to seq + 1, as the
// cnlab echo callback does, without allocating.
type echoSocket struct{ last []byte }

func (s *echoSocket) write(b []byte) error {
	s.last = append(s.last[:0], b...)
	seq := binary.NativeEndian.Uint32(s.last[nlmsgHdrLen+8:])
	binary.NativeEndian.PutUint32(s.last[nlmsgHdrLen+12:], seq+1)
	binary.NativeEndian.PutUint32(s.last[12:], 0) // from the kernel
	return nil
}

func (s *echoSocket) read(b []byte, wait bool) (int, Source, bool, error) {
	return copy(b, s.last), Source{}, false, nil
}

func (s *echoSocket) exchange(w, r []byte) (int, Source, bool, error, error) {
	return exchangeVia(s, w, r)
}

func (s *echoSocket) setReadDeadline(time.Time) error { return nil }
func (s *echoSocket) portID() uint32                  { return 1 }
func (s *echoSocket) close() error                    { return nil }
func (s *echoSocket) release()                        {}

// TestRequestDoesNotAllocate guards the hot path: a loop of RequestInto with
// a reused reply allocates nothing.
func TestRequestDoesNotAllocate(t *testing.T) {
	c := newConn(&echoSocket{last: make([]byte, 0, 256)})
	req := &Message{ID: echoID, Data: make([]byte, 64)}
	var reply Message
	allocs := testing.AllocsPerRun(1000, func() {
		if err := c.RequestInto(t.Context(), req, &reply); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("RequestInto allocates %.1f times per call, want 0", allocs)
	}
	c.SetRequestTimeout(time.Second)
	allocs = testing.AllocsPerRun(1000, func() {
		if err := c.RequestInto(t.Context(), req, &reply); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("RequestInto with a request timeout allocates %.1f times per call, want 0", allocs)
	}
}

func BenchmarkRequestInto(b *testing.B) {
	c := newConn(&echoSocket{last: make([]byte, 0, 256)})
	req := &Message{ID: echoID, Data: make([]byte, 64)}
	var reply Message
	for b.Loop() {
		if err := c.RequestInto(b.Context(), req, &reply); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestIntoWithTimeout is the loop a careful caller writes: a
// context.WithTimeout per request.
func BenchmarkRequestIntoWithTimeout(b *testing.B) {
	c := newConn(&echoSocket{last: make([]byte, 0, 256)})
	req := &Message{ID: echoID, Data: make([]byte, 64)}
	var reply Message
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.RequestInto(ctx, req, &reply)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestIntoTimeout is that loop with the Conn's request timeout
// instead: it should cost what BenchmarkRequestInto does.
func BenchmarkRequestIntoTimeout(b *testing.B) {
	c := newConn(&echoSocket{last: make([]byte, 0, 256)})
	c.SetRequestTimeout(time.Second)
	req := &Message{ID: echoID, Data: make([]byte, 64)}
	var reply Message
	for b.Loop() {
		if err := c.RequestInto(b.Context(), req, &reply); err != nil {
			b.Fatal(err)
		}
	}
}
