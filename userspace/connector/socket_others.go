//go:build !linux

package connector

import (
	"errors"
	"fmt"
	"syscall"
)

// errNotLinux is why every call that needs the kernel fails elsewhere.
var errNotLinux = fmt.Errorf("%w: NETLINK_CONNECTOR exists only on Linux", errors.ErrUnsupported)

// Dial fails: the connector exists only on Linux. The error is
// errors.ErrUnsupported.
func Dial(cfg *Config) (*Conn, error) {
	return nil, fmt.Errorf("dial connector: %w", errNotLinux)
}

// SetReadBuffer fails with errors.ErrUnsupported: see the Linux version.
func (c *Conn) SetReadBuffer(bytes int, force bool) error {
	return fmt.Errorf("set receive buffer to %d bytes: %w", bytes, errNotLinux)
}

// ReadBuffer fails with errors.ErrUnsupported: see the Linux version.
func (c *Conn) ReadBuffer() (int, error) {
	return 0, fmt.Errorf("read receive buffer size: %w", errNotLinux)
}

// SyscallConn fails with errors.ErrUnsupported: see the Linux version.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	return nil, fmt.Errorf("syscall conn: %w", errNotLinux)
}
