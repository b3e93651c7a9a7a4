package connector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Dial opens a NETLINK_CONNECTOR socket. cfg may be nil.
func Dial(cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	s, err := newLinuxSocket()
	if err != nil {
		return nil, fmt.Errorf("dial connector: %w", err)
	}
	c := newConn(s)
	s.conn = c
	c.SetRequestTimeout(cfg.RequestTimeout)
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
	err = s.control(func(fd uintptr) {
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
	s.wantAddr()
	return rawConn{s}, nil
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
	err = s.control(func(fd uintptr) {
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

// linuxSocket is a NETLINK_CONNECTOR socket of its own, not one from the
// net package or mdlayher/netlink, and deliberately not watched by the Go
// runtime's poller (epoll). A connector round trip is two system calls, a
// send that runs the callback, which queues the reply, and a receive that
// finds it there; a socket in the poller's epoll set also makes the kernel
// run the poller's wake-up callback for every datagram queued, which cost
// 400 to 730 instructions a round trip (7-12% of it) under cnctl bench
// -parts, and with more than one CPU can wake a thread parked in
// epoll_wait for nothing. So sends and receives are direct system calls,
// and only a receive that has to wait puts the socket in an epoll set, its
// own, for the wait, together with an eventfd that deadline changes,
// cancellation and Close write to wake it; the goroutine parks in the
// runtime's poller on that epoll instance, holding no thread.
type linuxSocket struct {
	pid  uint32
	conn *Conn // whose locks guard fd's release

	// fd, the eventfds and epfd are closed only by release, with both of
	// the Conn's locks held; every call that uses them holds one, so none
	// meets a closed or reused number. Waits under the receive lock use
	// evfd[0], those under the send lock (pause) evfd[1], so that neither
	// drains the other's wake-up.
	fd     int
	evfd   [2]int
	closed atomic.Bool

	// A receive that must wait adds fd to epfd, an epoll instance of its
	// own that also holds evfd[0], and parks its goroutine in the Go
	// runtime's poller on epfd (waitFile) until epfd has something to
	// report, then takes fd out again: fd is in an epoll set only while
	// a receive waits, so datagrams that arrive otherwise wake nothing,
	// and a waiting receive holds no thread. waitConn and ready are
	// made once, so that a wait allocates nothing; ready's events are
	// the receive lock's.
	epfd     int
	waitFile *os.File
	waitConn syscall.RawConn
	ready    func(fd uintptr) bool
	events   [2]unix.EpollEvent
	// deadline is the read deadline on the monotonic clock, in
	// nanoseconds since monoBase, 0 for none.
	deadline atomic.Int64

	// addr tells receives to ask for the sender's address. Until a group
	// is first joined, every message is unicast, and the address is not
	// asked for: copying it out costs a receive a fifth more under
	// emulation, and netlink_sendmsg lets only CAP_NET_ADMIN send to
	// another socket of this protocol, so nlmsg_pid stands for the sender.
	// It is set before the first join and never cleared: multicasts still
	// queued after the last group is left must keep their source, or they
	// pass for unicasts from the kernel. SyscallConn sets it too, since
	// groups may be joined through it unseen. noAddr counts receives under
	// way without the address; a join waits for them (see wantAddr).
	addr   atomic.Bool
	noAddr atomic.Int32
	from   unix.RawSockaddrNetlink // the Conn's receive lock guards it
}

func newLinuxSocket() (*linuxSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		unix.Close(fd)
		return nil, fmt.Errorf("getsockname: a %T, not a netlink address", sa)
	}
	s := &linuxSocket{pid: nl.Pid, fd: fd, evfd: [2]int{-1, -1}, epfd: -1}
	if err := s.openWaiter(); err != nil {
		s.closeFDs()
		return nil, err
	}
	return s, nil
}

// openWaiter makes the eventfds and the epoll instance that waits use.
func (s *linuxSocket) openWaiter() error {
	var err error
	for i := range s.evfd {
		if s.evfd[i], err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
			return os.NewSyscallError("eventfd", err)
		}
	}
	if s.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.evfd[recvWaker])}
	if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, s.evfd[recvWaker], &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	// Non-blocking, so that os.NewFile puts it in the runtime's poller.
	if err := unix.SetNonblock(s.epfd, true); err != nil {
		return os.NewSyscallError("fcntl", err)
	}
	s.waitFile = os.NewFile(uintptr(s.epfd), "connector-wait")
	if s.waitConn, err = s.waitFile.SyscallConn(); err != nil {
		return fmt.Errorf("epoll instance: %w", err)
	}
	s.ready = s.pollReady
	return nil
}

// pollReady is waitConn.Read's function: whether epfd has anything to
// report (the socket readable, or a wake-up on evfd[0]), without waiting.
func (s *linuxSocket) pollReady(fd uintptr) bool {
	n, err := unix.EpollWait(int(fd), s.events[:], 0)
	return n > 0 || (err != nil && err != unix.EINTR)
}

// closeFDs closes every descriptor the socket holds.
func (s *linuxSocket) closeFDs() {
	if s.waitFile != nil {
		s.waitFile.Close() // and with it epfd
	} else if s.epfd >= 0 {
		unix.Close(s.epfd)
	}
	for _, e := range s.evfd {
		if e >= 0 {
			unix.Close(e)
		}
	}
	if s.fd >= 0 {
		unix.Close(s.fd)
	}
	s.fd, s.evfd, s.epfd, s.waitFile = -1, [2]int{-1, -1}, -1, nil
}

// control runs f on the socket's descriptor, with the Conn's send lock held
// so that the descriptor stays open meanwhile.
func (s *linuxSocket) control(f func(fd uintptr)) error {
	s.conn.sendMu.Lock()
	defer s.conn.sendMu.Unlock()
	if s.closed.Load() {
		return net.ErrClosed
	}
	f(uintptr(s.fd))
	return nil
}

// wantAddr makes every receive from now on ask for the sender's address,
// and waits for those under way without it to end. A receive counts itself
// in noAddr and then looks at addr; wantAddr sets addr and then looks at
// noAddr: one of the two sees the other (Go's atomics are sequentially
// consistent), so no receive that started without the address is still
// under way when it returns, and a join after it cannot deliver a multicast
// to a receive that does not ask where it came from. Such receives never
// wait (see recv), so this is short.
func (s *linuxSocket) wantAddr() {
	if s.addr.Swap(true) {
		return
	}
	for s.noAddr.Load() != 0 {
		runtime.Gosched()
	}
}

func (s *linuxSocket) join(group uint32) error {
	s.wantAddr()
	var err error
	if cerr := s.control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, int(group))
	}); cerr != nil {
		return cerr
	}
	return os.NewSyscallError("setsockopt NETLINK_ADD_MEMBERSHIP", err)
}

func (s *linuxSocket) leave(group uint32) error {
	var err error
	if cerr := s.control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_NETLINK, unix.NETLINK_DROP_MEMBERSHIP, int(group))
	}); cerr != nil {
		return cerr
	}
	return os.NewSyscallError("setsockopt NETLINK_DROP_MEMBERSHIP", err)
}

// monoBase is when the package was initialized: read deadlines are kept as
// monotonic nanoseconds since then (time.Time.Sub and time.Since read the
// monotonic clock, and ppoll's timeout is measured on it).
var monoBase = time.Now()

// errSendAgain explains a send's EAGAIN.
var errSendAgain = fmt.Errorf("%w: the receiving socket's queue is full, and a netlink socket cannot wait for room (it always polls writable): try again later", unix.EAGAIN)

// write sends b once. EAGAIN is returned at once: it comes from a full
// queue at the receiving end (a socket connected to through SyscallConn),
// and a netlink socket always polls writable, so there is nothing to wait
// for.
func (s *linuxSocket) write(b []byte) error {
	if s.closed.Load() {
		return net.ErrClosed
	}
	err := write(uintptr(s.fd), b)
	if err == unix.EAGAIN {
		return errSendAgain
	}
	return err
}

func (s *linuxSocket) exchange(w, r []byte) (int, Source, bool, error, error) {
	if werr := s.write(w); werr != nil {
		return 0, Source{}, false, werr, nil
	}
	n, src, addr, rerr := s.read(r, false)
	return n, src, addr, nil, rerr
}

// recv is one non-blocking receive. It asks for the sender's address once
// addr is set (from is then s.from), and otherwise not (from is nil).
func (s *linuxSocket) recv(b []byte) (n int, from *unix.RawSockaddrNetlink, err error) {
	if s.addr.Load() {
		n, err = recvfrom(uintptr(s.fd), b, &s.from)
		return n, &s.from, err
	}
	s.noAddr.Add(1)
	if s.addr.Load() {
		s.noAddr.Add(-1)
		n, err = recvfrom(uintptr(s.fd), b, &s.from)
		return n, &s.from, err
	}
	n, err = recvfrom(uintptr(s.fd), b, nil)
	s.noAddr.Add(-1)
	return n, nil, err
}

func (s *linuxSocket) read(b []byte, wait bool) (int, Source, bool, error) {
	if s.closed.Load() {
		return 0, Source{}, false, net.ErrClosed
	}
	// Each try decides anew whether to ask for the address: a group may
	// have been joined while this read waited.
	n, from, err := s.recv(b)
	for wait && err == unix.EAGAIN {
		if err = s.wait(); err != nil {
			return 0, Source{}, false, err
		}
		n, from, err = s.recv(b)
	}
	if err != nil {
		return 0, Source{}, false, err
	}
	if n > len(b) {
		return 0, Source{}, false, truncated(n, len(b))
	}
	if from == nil {
		return n, Source{}, false, nil
	}
	return n, Source{PortID: from.Pid, Groups: from.Groups}, true, nil
}

// wait blocks until the socket is readable, the read deadline passes
// (os.ErrDeadlineExceeded) or the socket is closed (net.ErrClosed). It may
// return early; the caller tries again. Only receives wait, under the
// Conn's receive lock. The goroutine parks in the runtime's poller, on
// epfd, which holds the socket only for the wait (see linuxSocket): a
// blocking ppoll instead kept an OS thread per waiting receive (50
// waiting Receives, 55 threads; TestBlockedReceivesHoldNoThreads).
func (s *linuxSocket) wait() error {
	var drain [8]byte
	_, _ = unix.Read(s.evfd[recvWaker], drain[:])
	// Whatever changes after these loads writes to evfd, which is in
	// epfd and ends the wait below at once.
	if s.closed.Load() {
		return net.ErrClosed
	}
	var deadline time.Time
	if dl := s.deadline.Load(); dl != 0 {
		if dl-int64(time.Since(monoBase)) <= 0 {
			return os.ErrDeadlineExceeded
		}
		deadline = monoBase.Add(time.Duration(dl)) // monotonic, as monoBase is
	}
	if err := s.waitFile.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.fd)}
	if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	err := s.waitConn.Read(s.ready)
	if derr := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_DEL, s.fd, nil); derr != nil && err == nil {
		err = os.NewSyscallError("epoll_ctl", derr)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return os.ErrDeadlineExceeded
	}
	return err
}

// pause waits for d or until the socket is closed (net.ErrClosed), under
// the Conn's send lock: a netlink socket always polls writable, so a writer
// told to try again can only wait a while.
func (s *linuxSocket) pause(d time.Duration) error {
	var drain [8]byte
	_, _ = unix.Read(s.evfd[sendWaker], drain[:])
	if s.closed.Load() {
		return net.ErrClosed
	}
	ts := unix.NsecToTimespec(d.Nanoseconds())
	fds := [1]unix.PollFd{{Fd: int32(s.evfd[sendWaker]), Events: unix.POLLIN}}
	return ppoll(fds[:], &ts)
}

// ppoll is ppoll(2) without a signal mask; an interruption (EINTR) is not
// an error, the caller tries again.
func ppoll(fds []unix.PollFd, timeout *unix.Timespec) error {
	_, _, errno := unix.Syscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(unsafe.Pointer(timeout)), 0, 0, 0)
	if errno != 0 && errno != unix.EINTR {
		return os.NewSyscallError("ppoll", errno)
	}
	return nil
}

// Which of evfd a wait uses.
const (
	recvWaker = 0 // under the receive lock
	sendWaker = 1 // under the send lock
)

// kick wakes every wait.
func (s *linuxSocket) kick() {
	one := [8]byte{1}
	for _, e := range s.evfd {
		_, _ = unix.Write(e, one[:])
	}
}

func (s *linuxSocket) setReadDeadline(t time.Time) error {
	if s.closed.Load() {
		return net.ErrClosed
	}
	var ns int64
	if !t.IsZero() {
		// On the monotonic clock where t has a reading of it, as
		// time.Now() and context deadlines do, so that a step of the
		// system clock moves no deadline. Any t at or before
		// monoBase is past.
		ns = max(int64(t.Sub(monoBase)), 1)
	}
	if s.deadline.Swap(ns) != ns {
		s.kick()
	}
	return nil
}

func (s *linuxSocket) portID() uint32 { return s.pid }

func (s *linuxSocket) close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.kick()
	return nil
}

func (s *linuxSocket) release() {
	if s.fd >= 0 {
		s.closeFDs()
	}
}

// rawConn is the syscall.RawConn of SyscallConn.
type rawConn struct{ s *linuxSocket }

func (r rawConn) Control(f func(fd uintptr)) error { return r.s.control(f) }

// Read calls f until it reports done, waiting for the socket to be
// readable (or the read deadline) between calls. It is a receive: it holds
// the Conn's receive lock, not the send lock, so sends go on meanwhile.
func (r rawConn) Read(f func(fd uintptr) bool) error {
	c := r.s.conn
	_ = c.recvMu.lock(context.Background())
	defer c.recvMu.unlock()
	for {
		if r.s.closed.Load() {
			return net.ErrClosed
		}
		if f(uintptr(r.s.fd)) {
			return nil
		}
		if err := r.s.wait(); err != nil {
			return err
		}
	}
}

// Write calls f until it reports done, with the Conn's send lock held. A
// netlink socket always polls writable, so between calls it pauses, 1ms at
// first and twice as long each time up to 64ms, or until Close.
func (r rawConn) Write(f func(fd uintptr) bool) error {
	r.s.conn.sendMu.Lock()
	defer r.s.conn.sendMu.Unlock()
	pause := time.Millisecond
	for {
		if r.s.closed.Load() {
			return net.ErrClosed
		}
		if f(uintptr(r.s.fd)) {
			return nil
		}
		if err := r.s.pause(pause); err != nil {
			return err
		}
		pause = min(2*pause, 64*time.Millisecond)
	}
}

// recvFault, if set (by tests only), is consulted before each receive: a
// nonzero errno is returned as the receive's error without making the
// system call. Faults are injected here, not by replacing the system call
// function: a uintptr made from a pointer is kept alive only in a direct
// call to unix's or syscall's functions (TestPointersOnlyToSystemCalls).
var recvFault func() unix.Errno

// recvfrom is recvfrom(2) with MSG_TRUNC, so that a datagram larger than b
// is noticed, and without the allocation unix.Recvfrom makes for the
// sender's address. It retries when interrupted (EINTR).
//
// It is a raw system call, which does not tell the Go scheduler: the socket
// is non-blocking and a receive only copies out what is queued, so it never
// blocks or runs long.
func recvfrom(fd uintptr, b []byte, from *unix.RawSockaddrNetlink) (int, error) {
	for {
		if recvFault != nil {
			if errno := recvFault(); errno != 0 {
				if errno == unix.EINTR {
					continue
				}
				return 0, errno
			}
		}
		fromLen := uint32(unix.SizeofSockaddrNetlink)
		fromLenPtr := &fromLen
		if from == nil {
			fromLenPtr = nil
		}
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, fd,
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
