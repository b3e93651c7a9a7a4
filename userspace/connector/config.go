package connector

import "time"

// Config tunes a Conn. The zero value is a socket in no group with the
// kernel's default receive buffer.
type Config struct {
	// Groups are multicast groups to join at once (1 to 32).
	Groups []uint32
	// ReadBuffer, if positive, sets SO_RCVBUF, or SO_RCVBUFFORCE with
	// ForceReadBuffer.
	ReadBuffer      int
	ForceReadBuffer bool
	// RequestTimeout, if positive, is the Conn's request timeout: see
	// Conn.SetRequestTimeout.
	RequestTimeout time.Duration
}
