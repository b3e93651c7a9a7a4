package connector

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/internal/seam"
)

// userFake is a seam.Socket, as package cntest gives: datagrams queued by the test,
// each reported at its full length as MSG_TRUNC would.
type userFake struct {
	in      [][]byte
	sent    int
	sendErr error
}

func (s *userFake) Send(b []byte) error {
	if s.sendErr != nil {
		return s.sendErr
	}
	s.sent++
	return nil
}

func (s *userFake) Receive(b []byte, wait bool) (int, uint32, uint32, error) {
	if len(s.in) == 0 {
		if !wait {
			return 0, 0, 0, syscall.EAGAIN
		}
		return 0, 0, 0, errNothingQueued
	}
	d := s.in[0]
	s.in = s.in[1:]
	copy(b, d)
	return len(d), 0, 0, nil
}

func (s *userFake) SetReadDeadline(time.Time) error { return nil }
func (s *userFake) PortID() uint32                  { return 1 }
func (s *userFake) Close() error                    { return nil }
func (s *userFake) JoinGroup(uint32) error          { return nil }
func (s *userFake) LeaveGroup(uint32) error         { return nil }

// newFakeConn is a Conn on s, as package cntest makes one.
func newFakeConn(s seam.Socket) *Conn { return seam.NewConn(s).(*Conn) }

// fullDatagram is a datagram that fills a Conn's receive buffer exactly:
// four messages of 16 KiB each, netlink header included, seq 0 to 3.
func fullDatagram(t *testing.T) []byte {
	var full []byte
	for i := 0; i < 4; i++ {
		full = append(full, msgDatagram(t, Message{ID: echoID, Seq: uint32(i), Data: make([]byte, 16<<10-nlmsgHdrLen-HeaderLen)})...)
	}
	if len(full) != rbufSize {
		t.Fatalf("test datagram of %d bytes, want %d", len(full), rbufSize)
	}
	return full
}

// TestNewConnTruncation: through the seam, a datagram that fills the receive
// buffer exactly is whole; one a byte larger is ErrTruncated.
func TestNewConnTruncation(t *testing.T) {
	full := fullDatagram(t)
	s := &userFake{in: [][]byte{full, append(full, 0)}}
	c := newFakeConn(s)
	for i := 0; i < 4; i++ {
		if m, _, err := c.Receive(t.Context()); err != nil || m.Seq != uint32(i) {
			t.Fatalf("Receive #%d of a %d-byte datagram: seq %d, %v; want seq %d", i+1, rbufSize, m.Seq, err, i)
		}
	}
	if _, _, err := c.Receive(t.Context()); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Receive of a %d-byte datagram: err = %v, want ErrTruncated", rbufSize+1, err)
	}
}

// TestNewConnRequestSendFails: a Request whose send fails through the seam
// reports the send's error and waits for nothing.
func TestNewConnRequestSendFails(t *testing.T) {
	s := &userFake{sendErr: errors.New("send refused")}
	c := newFakeConn(s)
	_, err := c.Request(t.Context(), &Message{ID: echoID})
	if !errors.Is(err, s.sendErr) {
		t.Fatalf("Request whose send fails: err = %v, want %v", err, s.sendErr)
	}
}
