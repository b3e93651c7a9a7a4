package connector

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Config tunes a Conn. The zero value is a socket in no group with the
// kernel's default receive buffer.
type Config struct {
	// Groups are multicast groups to join at once (1 to 32).
	Groups []uint32
	// ReadBuffer, if positive, sets SO_RCVBUF.
	ReadBuffer int
}

// Dial opens a NETLINK_CONNECTOR socket. cfg may be nil.
func Dial(cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	nl, err := netlink.Dial(unix.NETLINK_CONNECTOR, nil)
	if err != nil {
		return nil, fmt.Errorf("dial connector: %w", err)
	}
	s, err := newLinuxSocket(nl)
	if err != nil {
		nl.Close()
		return nil, err
	}
	c := newConn(s)
	if cfg.ReadBuffer > 0 {
		if err := nl.SetReadBuffer(cfg.ReadBuffer); err != nil {
			nl.Close()
			return nil, fmt.Errorf("dial connector: set receive buffer to %d bytes: %w", cfg.ReadBuffer, err)
		}
	}
	for _, g := range cfg.Groups {
		if err := c.JoinGroup(g); err != nil {
			nl.Close()
			return nil, fmt.Errorf("dial connector: %w", err)
		}
	}
	return c, nil
}

// JoinGroup subscribes the socket to a multicast group, which needs
// CAP_NET_ADMIN for every connector group but the proc connector's.
func (c *Conn) JoinGroup(group uint32) error {
	s := c.sock.(*linuxSocket)
	if err := s.nl.JoinGroup(group); err != nil {
		return fmt.Errorf("join group %d: %w", group, err)
	}
	return nil
}

// LeaveGroup unsubscribes the socket from a multicast group.
func (c *Conn) LeaveGroup(group uint32) error {
	s := c.sock.(*linuxSocket)
	if err := s.nl.LeaveGroup(group); err != nil {
		return fmt.Errorf("leave group %d: %w", group, err)
	}
	return nil
}

// linuxSocket does its own sends and receives on the socket that
// mdlayher/netlink dialed, through its syscall.RawConn so that deadlines and
// Close work as for any Go socket. The closures handed to the RawConn are
// made once and take their arguments from fields, so that a round trip does
// not allocate.
type linuxSocket struct {
	nl  *netlink.Conn
	raw syscall.RawConn
	pid uint32

	// Arguments and results of the calls below; the Conn's mutex
	// serializes them.
	buf     []byte
	n       int
	from    unix.RawSockaddrNetlink
	err     error
	writeFn func(fd uintptr) bool
	tryFn   func(fd uintptr) bool
	waitFn  func(fd uintptr) bool
}

func newLinuxSocket(nl *netlink.Conn) (*linuxSocket, error) {
	raw, err := nl.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("dial connector: %w", err)
	}
	s := &linuxSocket{nl: nl, raw: raw, pid: nl.PID()}
	s.writeFn = func(fd uintptr) bool {
		_, s.err = unix.Write(int(fd), s.buf)
		return s.err != unix.EAGAIN
	}
	s.tryFn = func(fd uintptr) bool {
		s.n, s.err = recvfrom(fd, s.buf, &s.from)
		return true
	}
	s.waitFn = func(fd uintptr) bool {
		s.n, s.err = recvfrom(fd, s.buf, &s.from)
		return s.err != unix.EAGAIN
	}
	return s, nil
}

func (s *linuxSocket) write(b []byte) error {
	s.buf = b
	if err := s.raw.Write(s.writeFn); err != nil {
		return err
	}
	return s.err
}

func (s *linuxSocket) read(b []byte, wait bool) (int, Source, error) {
	s.buf = b
	fn := s.tryFn
	if wait {
		fn = s.waitFn
	}
	if err := s.raw.Read(fn); err != nil {
		return 0, Source{}, err
	}
	if s.err != nil {
		return 0, Source{}, s.err
	}
	if s.n > len(b) {
		return 0, Source{}, fmt.Errorf("%w: datagram of %d bytes, more than the %d-byte buffer", ErrMalformed, s.n, len(b))
	}
	return s.n, Source{PortID: s.from.Pid, Groups: s.from.Groups}, nil
}

func (s *linuxSocket) setReadDeadline(t time.Time) error { return s.nl.SetReadDeadline(t) }
func (s *linuxSocket) portID() uint32                    { return s.pid }
func (s *linuxSocket) close() error                      { return s.nl.Close() }

// recvfrom is recvfrom(2) with MSG_TRUNC, so that a datagram larger than b
// is noticed, and without the allocation unix.Recvfrom makes for the
// sender's address. The socket is non-blocking.
func recvfrom(fd uintptr, b []byte, from *unix.RawSockaddrNetlink) (int, error) {
	fromLen := uint32(unix.SizeofSockaddrNetlink)
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd,
		uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), unix.MSG_TRUNC,
		uintptr(unsafe.Pointer(from)), uintptr(unsafe.Pointer(&fromLen)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
