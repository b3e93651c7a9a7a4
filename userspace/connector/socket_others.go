//go:build !linux

package connector

import "errors"

// Config tunes a Conn; see the Linux documentation.
type Config struct {
	Groups          []uint32
	ReadBuffer      int
	ForceReadBuffer bool
}

// Dial fails: the connector exists only on Linux.
func Dial(cfg *Config) (*Conn, error) {
	return nil, errors.New("dial connector: NETLINK_CONNECTOR exists only on Linux")
}
