package connector

import (
	"syscall"
	"testing"
	"time"
)

// repeatSocket hands out the same datagram on every read, without
// allocating.
type repeatSocket struct{ dgram []byte }

func (s *repeatSocket) write([]byte) error { return nil }
func (s *repeatSocket) read(b []byte, wait bool) (int, Source, bool, error) {
	return copy(b, s.dgram), Source{Groups: 1 << 19}, true, nil
}
func (s *repeatSocket) exchange(w, r []byte) (int, Source, bool, error, error) {
	return 0, Source{}, false, nil, syscall.EAGAIN
}
func (s *repeatSocket) setReadDeadline(time.Time) error { return nil }
func (s *repeatSocket) portID() uint32                  { return 1 }
func (s *repeatSocket) close() error                    { return nil }
func (s *repeatSocket) release()                        {}

// TestReceiveInto: ReceiveInto decodes into m, reusing m.Data's capacity,
// so that a loop of receives allocates nothing; a message kept by a Request
// arrives the same way.
func TestReceiveInto(t *testing.T) {
	c := newConn(&repeatSocket{dgram: msgDatagram(t, Message{ID: ID{14, 0x4c1}, Seq: 9, Data: []byte("event")})})
	m := Message{Data: make([]byte, 0, 64)}
	allocs := testing.AllocsPerRun(1000, func() {
		src, err := c.ReceiveInto(t.Context(), &m)
		if err != nil || m.Seq != 9 || string(m.Data) != "event" || src.Group() != 20 {
			t.Fatalf("ReceiveInto = seq %d, %q from %+v, %v; want seq 9, \"event\" from group 20", m.Seq, m.Data, src, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ReceiveInto allocates %.1f times per call, want 0", allocs)
	}
	if cap(m.Data) != 64 {
		t.Fatalf("m.Data has capacity %d: its buffer was not reused", cap(m.Data))
	}

	// A message a Request kept for Receive.
	s := &fakeSocket{}
	s.onWrite = func(s *fakeSocket, req *Message) {
		s.queueMsg(t, Message{ID: ID{14, 0x4c1}, Seq: 7, Data: []byte("kept")}, Source{Groups: 1 << 19})
		s.queueMsg(t, reply(req, req.Seq+1), Source{})
	}
	c = newConn(s)
	if _, err := c.Request(t.Context(), &Message{ID: echoID}); err != nil {
		t.Fatal(err)
	}
	m.Data = m.Data[:0]
	src, err := c.ReceiveInto(t.Context(), &m)
	if err != nil || m.Seq != 7 || string(m.Data) != "kept" || src.Group() != 20 || cap(m.Data) != 64 {
		t.Fatalf("ReceiveInto of a kept message = seq %d, %q (capacity %d) from %+v, %v; want seq 7, \"kept\" from group 20 in the same buffer", m.Seq, m.Data, cap(m.Data), src, err)
	}
}
