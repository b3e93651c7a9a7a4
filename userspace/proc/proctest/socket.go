// Package proctest helps test code that reads process events without a
// kernel. Its Socket is a connector socket whose datagrams carry the source
// address the test gives them, as recvfrom reports it: the kernel's port 0,
// or a user-space sender's port, which is how a test forges an event.
// (connector/cntest's fake sends everything from port 0.) It does not
// import package proc, so proc's own tests can use it.
package proctest

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/internal/seam"
)

// Socket is a fake connector socket: what is sent to it goes to OnSend,
// and what Push queues is received. The zero value is not ready: use
// NewSocket.
type Socket struct {
	// OnSend, if set, gets each message sent to the kernel, and answers
	// it with Push (a fake cn_proc acks from port 0). A returned error
	// fails the send.
	OnSend func(s *Socket, m connector.Message) error

	wake chan struct{}

	mu       sync.Mutex
	queue    [][]byte
	srcs     []connector.Source
	deadline time.Time
	groups   uint32
	closed   bool
}

// NewSocket returns a Socket whose sends go to onSend.
func NewSocket(onSend func(s *Socket, m connector.Message) error) *Socket {
	return &Socket{OnSend: onSend, wake: make(chan struct{}, 1)}
}

// Push queues m as one datagram broadcast to group from port: 0 is the
// kernel, anything else a user-space sender. Its netlink header's pid is
// port too, though a Conn goes by the source address.
func (s *Socket) Push(port, group uint32, m connector.Message) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("proctest: push: %w", err)
	}
	d := make([]byte, 16, 16+len(b))
	binary.NativeEndian.PutUint32(d[0:], uint32(16+len(b)))
	binary.NativeEndian.PutUint16(d[4:], 3) // NLMSG_DONE, as the connector sends
	binary.NativeEndian.PutUint32(d[8:], m.Seq)
	binary.NativeEndian.PutUint32(d[12:], port)
	src := connector.Source{PortID: port}
	if group > 0 {
		src.Groups = 1 << (group - 1)
	}
	s.mu.Lock()
	if !s.closed {
		s.queue = append(s.queue, append(d, b...))
		s.srcs = append(s.srcs, src)
	}
	s.mu.Unlock()
	s.kick()
	return nil
}

func (s *Socket) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Send decodes the one message of b and gives it to OnSend.
func (s *Socket) Send(b []byte) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	var m connector.Message
	if len(b) < 16 || m.UnmarshalBinary(b[16:]) != nil {
		return syscall.EINVAL
	}
	if s.OnSend == nil {
		return nil
	}
	return s.OnSend(s, m)
}

// NewConn returns a connector.Conn on s.
func NewConn(s *Socket) *connector.Conn { return seam.NewConn(s).(*connector.Conn) }

// Receive hands out the queued datagrams in order, with their senders'
// port ids and group masks, waiting for one as a Conn's socket does.
func (s *Socket) Receive(b []byte, wait bool) (n int, portID, groups uint32, err error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, 0, 0, net.ErrClosed
		}
		if len(s.queue) > 0 {
			d, src := s.queue[0], s.srcs[0]
			s.queue, s.srcs = s.queue[1:], s.srcs[1:]
			s.mu.Unlock()
			return copy(b, d), src.PortID, src.Groups, nil
		}
		dl := s.deadline
		s.mu.Unlock()
		if !wait {
			return 0, 0, 0, syscall.EAGAIN
		}
		if err := s.sleep(dl); err != nil {
			return 0, 0, 0, err
		}
	}
}

// sleep waits for a kick or the deadline dl (zero: none).
func (s *Socket) sleep(dl time.Time) error {
	if dl.IsZero() {
		<-s.wake
		return nil
	}
	left := time.Until(dl)
	if left <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-s.wake:
	case <-t.C:
	}
	return nil
}

// SetReadDeadline bounds the waits of Receive.
func (s *Socket) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	s.kick()
	return nil
}

// PortID is the socket's own port id.
func (s *Socket) PortID() uint32 { return 4000 }

// Close closes the socket, waking a Receive that waits.
func (s *Socket) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.kick()
	return nil
}

// JoinGroup records the group; the Socket receives what Push queues
// whatever the groups.
func (s *Socket) JoinGroup(group uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups |= 1 << (group - 1)
	return nil
}

// LeaveGroup forgets the group.
func (s *Socket) LeaveGroup(group uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups &^= 1 << (group - 1)
	return nil
}

var _ seam.Socket = (*Socket)(nil)
