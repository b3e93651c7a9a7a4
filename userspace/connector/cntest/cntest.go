// Package cntest fakes the kernel's connector, so that code using a
// connector.Conn is tested without a kernel, as mdlayher/netlink's nltest
// does for netlink. A Kernel hands out Conns whose sends go to a Func,
// which answers as a connector callback would, and sends multicasts to the
// Conns that joined a group. It knows no family: the cnlab module's fake is
// control/controltest, on top of this one.
//
// The fake is not the kernel: it checks no capabilities and drops nothing.
// What only the kernel can show is tested in e2e/, in a guest.
package cntest

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

// Func is a fake connector callback: it gets each message a Conn sends,
// with the sender's port id, and returns the messages the kernel sends back
// to that sender. An error fails the Send.
type Func func(from uint32, m connector.Message) ([]connector.Message, error)

// Echo is a Func that answers every message as cnlab's echo does: same id,
// seq and data, ack = seq + 1.
func Echo(_ uint32, m connector.Message) ([]connector.Message, error) {
	return []connector.Message{{ID: m.ID, Seq: m.Seq, Ack: m.Seq + 1, Data: m.Data}}, nil
}

// Kernel is a fake connector: the sockets it hands out and what they sent.
type Kernel struct {
	fn Func

	mu      sync.Mutex
	socks   map[uint32]*socket
	nextPID uint32
	sent    []connector.Message
}

// New returns a Kernel whose callback is fn; nil answers nothing.
func New(fn Func) *Kernel {
	if fn == nil {
		fn = func(uint32, connector.Message) ([]connector.Message, error) { return nil, nil }
	}
	return &Kernel{fn: fn, socks: map[uint32]*socket{}, nextPID: 1000}
}

// Dial returns a Conn on the fake, as connector.Dial does on the kernel;
// cfg's Groups are joined, its buffer sizes ignored.
func Dial(fn Func) *connector.Conn {
	c, _ := New(fn).Dial(nil)
	return c
}

// Dial opens a Conn on k, joining cfg's groups and setting its request
// timeout; the buffer sizes are ignored.
func (k *Kernel) Dial(cfg *connector.Config) (*connector.Conn, error) {
	k.mu.Lock()
	k.nextPID++
	s := &socket{k: k, pid: k.nextPID, wake: make(chan struct{}, 1)}
	k.socks[s.pid] = s
	k.mu.Unlock()
	c := seam.NewConn(s).(*connector.Conn)
	if cfg != nil {
		c.SetRequestTimeout(cfg.RequestTimeout)
		for _, g := range cfg.Groups {
			if err := c.JoinGroup(g); err != nil {
				c.Close()
				return nil, fmt.Errorf("dial connector: %w", err)
			}
		}
	}
	return c, nil
}

// Sent returns the messages sent to the kernel so far, by every Conn.
func (k *Kernel) Sent() []connector.Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]connector.Message(nil), k.sent...)
}

// Multicast sends m from the kernel to every socket in group, and returns
// how many it reached.
func (k *Kernel) Multicast(group uint32, m connector.Message) int {
	k.mu.Lock()
	var to []*socket
	for _, s := range k.socks {
		if s.in(group) {
			to = append(to, s)
		}
	}
	k.mu.Unlock()
	for _, s := range to {
		s.push(m, connector.Source{Groups: 1 << (group - 1)})
	}
	return len(to)
}

// Unicast sends m from the kernel to the socket with portID; it reports
// false when there is none, as the kernel's ECONNREFUSED.
func (k *Kernel) Unicast(portID uint32, m connector.Message) bool {
	k.mu.Lock()
	s := k.socks[portID]
	k.mu.Unlock()
	if s == nil {
		return false
	}
	s.push(m, connector.Source{})
	return true
}

// socket is one Conn's end: a queue of datagrams and the groups joined.
type socket struct {
	k    *Kernel
	pid  uint32
	wake chan struct{}

	mu       sync.Mutex
	queue    [][]byte
	srcs     []connector.Source
	groups   uint32
	deadline time.Time
	closed   bool
}

func (s *socket) in(group uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groups&(1<<(group-1)) != 0
}

func (s *socket) push(m connector.Message, src connector.Source) {
	b, err := m.MarshalBinary()
	if err != nil {
		return
	}
	d := make([]byte, 16, 16+len(b))
	binary.NativeEndian.PutUint32(d[0:], uint32(16+len(b)))
	binary.NativeEndian.PutUint16(d[4:], 3) // NLMSG_DONE, as the connector sends
	binary.NativeEndian.PutUint32(d[8:], m.Seq)
	d = append(d, b...)
	s.mu.Lock()
	if !s.closed {
		s.queue = append(s.queue, d)
		s.srcs = append(s.srcs, src)
	}
	s.mu.Unlock()
	s.kick()
}

func (s *socket) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Send decodes the netlink messages of b and gives each to the callback.
func (s *socket) Send(b []byte) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	for len(b) > 0 {
		if len(b) < 16 {
			return syscall.EINVAL
		}
		n := int(binary.NativeEndian.Uint32(b))
		if n < 16 || n > len(b) {
			return syscall.EINVAL
		}
		var m connector.Message
		if err := m.UnmarshalBinary(b[16:n]); err == nil {
			s.k.mu.Lock()
			s.k.sent = append(s.k.sent, m)
			s.k.mu.Unlock()
			replies, err := s.k.fn(s.pid, m)
			if err != nil {
				return err
			}
			for _, r := range replies {
				s.push(r, connector.Source{})
			}
		}
		b = b[min((n+3)&^3, len(b)):]
	}
	return nil
}

func (s *socket) Receive(b []byte, wait bool) (n int, portID, groups uint32, err error) {
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
			copy(b, d)
			return len(d), src.PortID, src.Groups, nil
		}
		dl := s.deadline
		s.mu.Unlock()
		if !wait {
			return 0, 0, 0, syscall.EAGAIN
		}
		var timeout <-chan time.Time
		if !dl.IsZero() {
			left := time.Until(dl)
			if left <= 0 {
				return 0, 0, 0, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(left)
			timeout = t.C
			defer t.Stop()
		}
		select {
		case <-s.wake:
		case <-timeout:
		}
	}
}

func (s *socket) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	s.kick()
	return nil
}

func (s *socket) PortID() uint32 { return s.pid }

func (s *socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.k.mu.Lock()
	delete(s.k.socks, s.pid)
	s.k.mu.Unlock()
	s.kick()
	return nil
}

func (s *socket) JoinGroup(group uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.groups |= 1 << (group - 1)
	return nil
}

func (s *socket) LeaveGroup(group uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.groups &^= 1 << (group - 1)
	return nil
}

var _ seam.Socket = (*socket)(nil)
