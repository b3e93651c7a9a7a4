package connector

import (
	"errors"
	"time"
)

// Socket is a datagram socket for a Conn made by NewConn instead of Dial:
// a fake of the kernel, as package cntest provides, so that code above a
// Conn can be tested without one.
type Socket interface {
	// Send sends one datagram, which holds netlink messages, to the
	// kernel.
	Send(b []byte) error
	// Receive copies the next datagram for the socket into b and returns
	// its length (more than len(b) if it did not fit, as MSG_TRUNC
	// reports) and where it came from. With wait false it returns
	// syscall.EAGAIN at once when none is queued; with wait true it
	// blocks until one arrives, the read deadline passes
	// (os.ErrDeadlineExceeded) or the socket is closed (net.ErrClosed).
	Receive(b []byte, wait bool) (n int, src Source, err error)
	// SetReadDeadline sets when a waiting Receive gives up; the zero
	// time means never.
	SetReadDeadline(t time.Time) error
	// PortID is the socket's netlink port id.
	PortID() uint32
	// Close closes the socket and wakes a waiting Receive.
	Close() error
}

// GroupSocket is a Socket that also joins and leaves multicast groups, for
// Conn.JoinGroup and LeaveGroup.
type GroupSocket interface {
	Socket
	JoinGroup(group uint32) error
	LeaveGroup(group uint32) error
}

// NewConn returns a Conn that sends and receives on s.
func NewConn(s Socket) *Conn {
	if g, ok := s.(GroupSocket); ok {
		return newConn(&groupSocket{userSocket{s}, g})
	}
	return newConn(userSocket{s})
}

// userSocket adapts a Socket to what Conn uses.
type userSocket struct{ s Socket }

func (u userSocket) write(b []byte) error { return u.s.Send(b) }

func (u userSocket) read(b []byte, wait bool) (int, Source, bool, error) {
	n, src, err := u.s.Receive(b, wait)
	if err != nil {
		return 0, Source{}, true, err
	}
	if n > len(b) {
		return 0, Source{}, true, truncated(n, len(b))
	}
	return n, src, true, nil
}

func (u userSocket) exchange(w, r []byte) (int, Source, bool, error, error) {
	if err := u.write(w); err != nil {
		return 0, Source{}, false, err, nil
	}
	n, src, addr, err := u.read(r, false)
	return n, src, addr, nil, err
}

func (u userSocket) setReadDeadline(t time.Time) error { return u.s.SetReadDeadline(t) }
func (u userSocket) portID() uint32                    { return u.s.PortID() }
func (u userSocket) close() error                      { return u.s.Close() }
func (u userSocket) release()                          {}

type groupSocket struct {
	userSocket
	g GroupSocket
}

func (g *groupSocket) join(group uint32) error  { return g.g.JoinGroup(group) }
func (g *groupSocket) leave(group uint32) error { return g.g.LeaveGroup(group) }

var _ grouper = (*groupSocket)(nil)

// errNotKernel is returned for socket options of a Conn made by NewConn.
var errNotKernel = errors.New("not a kernel socket (NewConn)")
