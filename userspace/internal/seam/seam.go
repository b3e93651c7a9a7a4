// Package seam is how the fakes (packages cntest and proctest) give a
// connector.Conn a fake socket, without that way being part of package
// connector's API.
package seam

import "time"

// Socket is a fake of the kernel's socket for one Conn.
type Socket interface {
	// Send sends one datagram, which holds netlink messages, to the
	// kernel.
	Send(b []byte) error
	// Receive copies the next datagram for the socket into b and returns
	// its length (more than len(b) if it did not fit, as MSG_TRUNC
	// reports) and its sender's port id and group mask. With wait false
	// it returns syscall.EAGAIN at once when none is queued; with wait
	// true it blocks until one arrives, the read deadline passes
	// (os.ErrDeadlineExceeded) or the socket is closed (net.ErrClosed).
	Receive(b []byte, wait bool) (n int, portID, groups uint32, err error)
	// SetReadDeadline sets when a waiting Receive gives up; the zero
	// time means never.
	SetReadDeadline(t time.Time) error
	// PortID is the socket's netlink port id.
	PortID() uint32
	// Close closes the socket and wakes a waiting Receive.
	Close() error
	// JoinGroup and LeaveGroup join and leave a multicast group.
	JoinGroup(group uint32) error
	LeaveGroup(group uint32) error
}

// NewConn returns a *connector.Conn on s. Package connector sets it when
// it is initialized, which is before any package that imports it runs.
var NewConn func(s Socket) any
