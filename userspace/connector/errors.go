package connector

import (
	"errors"
	"fmt"
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

	// ErrOverrun is returned by Receive and Request when the socket's
	// receive queue overflowed (ENOBUFS): the kernel dropped messages meant
	// for this socket. The connection stays usable.
	ErrOverrun = errors.New("receive queue overflowed: messages were lost")
)

// ErrTruncated is returned by Receive and Request for a datagram larger than
// the receive buffer (MSG_TRUNC): its end was lost, and with it the
// messages it carried. The connection stays usable.
var ErrTruncated = errors.New("datagram truncated: larger than the receive buffer")

func truncated(n, size int) error {
	return fmt.Errorf("%w: a datagram of %d bytes, more than the %d-byte buffer (MSG_TRUNC)", ErrTruncated, n, size)
}
