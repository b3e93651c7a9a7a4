package connector

import (
	"errors"
	"fmt"
	"syscall"
)

var (
	// ErrTooBig is returned, before anything is sent, for a message whose
	// data exceeds MaxData: the connector core would drop it silently.
	ErrTooBig = errors.New("message too big for the connector")

	// ErrMalformed is returned for bytes that are not a well-formed
	// message: too short for a struct cn_msg, or a len that disagrees with
	// what arrived.
	ErrMalformed = errors.New("malformed connector message")

	// ErrNoSuchGroup is returned for a group number the connector does
	// not have.
	ErrNoSuchGroup = errors.New("no such connector group")

	// ErrOverrun is returned by Receive when the socket's receive queue
	// overflowed (ENOBUFS): the kernel dropped messages meant for this
	// socket. The connection stays usable: a Request that meets one keeps
	// it for Receive and waits on for its reply.
	ErrOverrun = errors.New("receive queue overflowed: messages were lost")
)

// ErrTruncated is returned by Receive for a datagram larger than the receive
// buffer (MSG_TRUNC): its end was lost, and with it the messages it carried.
// The connection stays usable: a Request that meets one keeps it for
// Receive and waits on for its reply.
var ErrTruncated = errors.New("datagram truncated: larger than the receive buffer")

// NetlinkError is a netlink error message (NLMSG_ERROR) that arrived on the
// socket, which Receive returns. The kernel's connector never sends one
// unasked; another socket may. A Request that meets one keeps it for
// Receive and waits on for its reply.
type NetlinkError struct {
	// PortID is the sender's port id, 0 for the kernel.
	PortID uint32
	// Err is the error the message carries.
	Err syscall.Errno
}

func (e *NetlinkError) Error() string {
	return fmt.Sprintf("netlink error from port %d: %v", e.PortID, e.Err)
}

// Unwrap returns the error the message carries.
func (e *NetlinkError) Unwrap() error { return e.Err }

func truncated(n, size int) error {
	return fmt.Errorf("%w: a datagram of %d bytes, more than the %d-byte buffer (MSG_TRUNC)", ErrTruncated, n, size)
}
