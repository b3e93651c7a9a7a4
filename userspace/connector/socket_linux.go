package connector

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
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
	// ReadBuffer, if positive, sets SO_RCVBUF, or SO_RCVBUFFORCE with
	// ForceReadBuffer.
	ReadBuffer      int
	ForceReadBuffer bool
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
		if err := c.SetReadBuffer(cfg.ReadBuffer, cfg.ForceReadBuffer); err != nil {
			c.Close()
			return nil, fmt.Errorf("dial connector: %w", err)
		}
	}
	for _, g := range cfg.Groups {
		if err := c.JoinGroup(g); err != nil {
			c.Close()
			return nil, fmt.Errorf("dial connector: %w", err)
		}
	}
	return c, nil
}

// kernelSocket returns the Conn's kernel socket, or an error for a Conn made
// with NewConn or a closed one.
func (c *Conn) kernelSocket() (*linuxSocket, error) {
	s, ok := c.sock.(*linuxSocket)
	if !ok {
		return nil, fmt.Errorf("%w: %w", errors.ErrUnsupported, errNotKernel)
	}
	if s.closed.Load() {
		return nil, net.ErrClosed
	}
	return s, nil
}

// closedErr maps an error of a socket that was closed meanwhile to
// net.ErrClosed. (The poller's own "use of closed file" is not exported.)
func (s *linuxSocket) closedErr(err error) error {
	if err != nil && (s.closed.Load() || errors.Is(err, os.ErrClosed)) {
		return net.ErrClosed
	}
	return err
}

// SetReadBuffer sets the socket's receive buffer (SO_RCVBUF), which the
// kernel doubles and bounds by net.core.rmem_max. With force it uses
// SO_RCVBUFFORCE, which ignores that bound and needs CAP_NET_ADMIN.
func (c *Conn) SetReadBuffer(bytes int, force bool) error {
	s, err := c.kernelSocket()
	if err != nil {
		return fmt.Errorf("set receive buffer to %d bytes: %w", bytes, err)
	}
	opt := unix.SO_RCVBUF
	if force {
		opt = unix.SO_RCVBUFFORCE
	}
	var serr error
	err = s.raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, bytes)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		err = s.closedErr(err)
		if force && errors.Is(err, unix.EPERM) {
			return fmt.Errorf("set receive buffer to %d bytes with SO_RCVBUFFORCE: %w (needs CAP_NET_ADMIN; without force, SO_RCVBUF is bounded by net.core.rmem_max)", bytes, err)
		}
		return fmt.Errorf("set receive buffer to %d bytes: %w", bytes, err)
	}
	return nil
}

// SyscallConn gives access to the socket for options this package does not
// set itself, such as a socket filter (SO_ATTACH_FILTER). Groups joined
// through it are not known to the Conn, so from then on every receive asks
// for the sender's address.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	s, err := c.kernelSocket()
	if err != nil {
		return nil, err
	}
	s.alwaysAddr.Store(true)
	return s.raw, nil
}

// ReadBuffer returns the socket's receive buffer size as the kernel keeps it
// (twice what was asked for).
func (c *Conn) ReadBuffer() (int, error) {
	s, err := c.kernelSocket()
	if err != nil {
		return 0, fmt.Errorf("read receive buffer size: %w", err)
	}
	var n int
	var serr error
	err = s.raw.Control(func(fd uintptr) {
		n, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("read receive buffer size: %w", s.closedErr(err))
	}
	return n, nil
}

// linuxSocket does its own sends and receives on the socket that
// mdlayher/netlink dialed. Calls that cannot block go straight to the file
// descriptor: a connector round trip is two system calls, and the runtime's
// poller bookkeeping around each (fd locks, poller resets, scheduler
// hand-offs) costs as much again, several times over under emulation. Only
// a receive that has to wait goes through the syscall.RawConn, so that
// deadlines and Close work as for any Go socket.
type linuxSocket struct {
	nl  *netlink.Conn
	raw syscall.RawConn
	pid uint32

	// fd is a duplicate of the socket's descriptor for the direct system
	// calls. The Conn's locks guard its release: each call runs under
	// one of them, closing the socket itself (close) wakes a waiting
	// receive, which then lets go of its lock, and only with both held is
	// fd closed (release), so a call never meets a closed or reused
	// number.
	fd     int
	closed atomic.Bool

	// groups is the set of multicast groups joined, bit g-1 for group g.
	// With none, every message is unicast, and the sender's address is
	// not asked for: copying it out costs a receive a fifth more under
	// emulation, and netlink_sendmsg lets only CAP_NET_ADMIN send to
	// another socket of this protocol. alwaysAddr is set once the socket
	// is handed out (SyscallConn), where groups may be joined unseen.
	groupsMu   sync.Mutex
	groups     atomic.Uint32
	alwaysAddr atomic.Bool

	// Arguments and results of waitFn, made once so that waiting does not
	// allocate; the Conn's receive lock serializes its use.
	buf     []byte
	n       int
	from    unix.RawSockaddrNetlink
	fromPtr *unix.RawSockaddrNetlink // &from, or nil when no group is joined
	err     error
	waitFn  func(fd uintptr) bool
}

func newLinuxSocket(nl *netlink.Conn) (*linuxSocket, error) {
	raw, err := nl.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("dial connector: %w", err)
	}
	s := &linuxSocket{nl: nl, raw: raw, pid: nl.PID()}
	var dupErr error
	if err := raw.Control(func(fd uintptr) {
		s.fd, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, fmt.Errorf("dial connector: %w", err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("dial connector: duplicate the socket: %w", dupErr)
	}
	s.waitFn = func(fd uintptr) bool {
		s.n, s.err = recvfrom(fd, s.buf, s.fromPtr)
		return s.err != unix.EAGAIN
	}
	return s, nil
}

func (s *linuxSocket) join(group uint32) error {
	if s.closed.Load() {
		return net.ErrClosed
	}
	s.groupsMu.Lock()
	defer s.groupsMu.Unlock()
	if err := s.nl.JoinGroup(group); err != nil {
		return s.closedErr(err)
	}
	s.groups.Store(s.groups.Load() | 1<<(group-1))
	return nil
}

func (s *linuxSocket) leave(group uint32) error {
	if s.closed.Load() {
		return net.ErrClosed
	}
	s.groupsMu.Lock()
	defer s.groupsMu.Unlock()
	if err := s.nl.LeaveGroup(group); err != nil {
		return s.closedErr(err)
	}
	s.groups.Store(s.groups.Load() &^ (1 << (group - 1)))
	return nil
}

func (s *linuxSocket) write(b []byte) error {
	if s.closed.Load() {
		return net.ErrClosed
	}
	err := write(uintptr(s.fd), b)
	if err != unix.EAGAIN {
		return err
	}
	// A full send buffer: wait for room as any Go socket does.
	werr := s.raw.Write(func(fd uintptr) bool {
		err = write(fd, b)
		return err != unix.EAGAIN
	})
	if werr != nil {
		return s.closedErr(werr)
	}
	return err
}

func (s *linuxSocket) exchange(w, r []byte) (int, Source, bool, error, error) {
	if s.closed.Load() {
		return 0, Source{}, false, net.ErrClosed, nil
	}
	werr := write(uintptr(s.fd), w)
	if werr != nil {
		if werr != unix.EAGAIN {
			return 0, Source{}, false, werr, nil
		}
		if werr = s.write(w); werr != nil {
			return 0, Source{}, false, werr, nil
		}
		n, src, addr, rerr := s.read(r, false)
		return n, src, addr, nil, rerr
	}
	from := s.fromAddr()
	n, rerr := recvfrom(uintptr(s.fd), r, from)
	src, addr, rerr := s.received(n, r, from, rerr)
	return n, src, addr, nil, rerr
}

// fromAddr returns where a receive should put the sender's address, or nil
// when no group is joined and the address is not wanted.
func (s *linuxSocket) fromAddr() *unix.RawSockaddrNetlink {
	if s.groups.Load() != 0 || s.alwaysAddr.Load() {
		return &s.from
	}
	return nil
}

// received checks a receive's result.
func (s *linuxSocket) received(n int, b []byte, from *unix.RawSockaddrNetlink, err error) (Source, bool, error) {
	if err != nil {
		return Source{}, false, err
	}
	if n > len(b) {
		return Source{}, false, truncated(n, len(b))
	}
	if from == nil {
		return Source{}, false, nil
	}
	return Source{PortID: from.Pid, Groups: from.Groups}, true, nil
}

func (s *linuxSocket) read(b []byte, wait bool) (int, Source, bool, error) {
	var n int
	var err error
	from := s.fromAddr()
	if wait {
		s.buf, s.fromPtr = b, from
		if rerr := s.raw.Read(s.waitFn); rerr != nil {
			return 0, Source{}, false, s.closedErr(rerr)
		}
		n, err = s.n, s.err
	} else {
		if s.closed.Load() {
			return 0, Source{}, false, net.ErrClosed
		}
		n, err = recvfrom(uintptr(s.fd), b, from)
	}
	src, addr, err := s.received(n, b, from, err)
	if err != nil {
		n = 0
	}
	return n, src, addr, err
}

func (s *linuxSocket) setReadDeadline(t time.Time) error {
	return s.closedErr(s.nl.SetReadDeadline(t))
}

func (s *linuxSocket) portID() uint32 { return s.pid }

func (s *linuxSocket) close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.nl.Close()
}

func (s *linuxSocket) release() {
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}

// rawSyscall6 is unix.RawSyscall6; tests replace it to inject errors.
var rawSyscall6 = unix.RawSyscall6

// recvfrom is recvfrom(2) with MSG_TRUNC, so that a datagram larger than b
// is noticed, and without the allocation unix.Recvfrom makes for the
// sender's address. It retries when interrupted (EINTR).
//
// It is a raw system call, which does not tell the Go scheduler: the socket
// is non-blocking and a receive only copies out what is queued, so it never
// blocks or runs long.
func recvfrom(fd uintptr, b []byte, from *unix.RawSockaddrNetlink) (int, error) {
	for {
		fromLen := uint32(unix.SizeofSockaddrNetlink)
		fromLenPtr := &fromLen
		if from == nil {
			fromLenPtr = nil
		}
		n, _, errno := rawSyscall6(unix.SYS_RECVFROM, fd,
			uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), unix.MSG_TRUNC,
			uintptr(unsafe.Pointer(from)), uintptr(unsafe.Pointer(fromLenPtr)))
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, errno
	}
}

// write is send(2) (sendto without an address, as the C reference client
// does: a shorter path in the kernel than write(2)), retried when
// interrupted (EINTR). It is an ordinary system call, not a raw one: the
// connector's callback runs inside it, and a callback may sleep (a mutex)
// or run long (a burst of a million messages), which the Go scheduler must
// know of to run other goroutines meanwhile.
func write(fd uintptr, b []byte) error {
	for {
		_, _, errno := unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0, 0, 0)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return errno
	}
}
