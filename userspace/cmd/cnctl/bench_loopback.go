package main

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// loopback is a pair of connected sockets on 127.0.0.1, UDP or TCP, for
// timing a round trip of other traffic than the connector's: what the
// probes cost the rest of the machine. Both ends are this goroutine's, the
// way the connector's echo runs inside the client's send: a round trip is
// a write on a, a read on b, the same bytes written back on b and read on
// a, each a blocking system call on a socket of its own (not in the Go
// runtime's epoll set), as the connector client's are. On loopback the
// kernel delivers a datagram or a segment inside the sender's write
// (the receive runs in the softirq its send raises), so every receive
// path, sk_filter_trim_cap included, runs once per direction, and no
// scheduling is timed.
type loopback struct {
	network string // "udp" or "tcp"
	a, b    int
	out, in []byte
	timeout time.Duration // of each read (SO_RCVTIMEO)
}

// dialLoopback connects a pair of network ("udp" or "tcp") sockets on
// 127.0.0.1 for round trips of size bytes (at least 1: an empty TCP write
// sends nothing); a read that waits longer than timeout fails.
func dialLoopback(network string, size int, timeout time.Duration) (l *loopback, err error) {
	typ := map[string]int{"udp": unix.SOCK_DGRAM, "tcp": unix.SOCK_STREAM}[network]
	if typ == 0 {
		return nil, fmt.Errorf("loopback %q: want udp or tcp", network)
	}
	size = max(size, 1)
	l = &loopback{network: network, a: -1, b: -1, out: make([]byte, size), in: make([]byte, size), timeout: timeout}
	for i := range l.out {
		l.out[i] = byte(i)
	}
	defer func() {
		if err != nil {
			l.Close()
			err = fmt.Errorf("%s loopback: %w (is the loopback interface, lo, up?)", network, err)
		}
	}()
	lo := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	bound := func() (int, unix.Sockaddr, error) {
		fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, nil, err
		}
		if err := unix.Bind(fd, lo); err != nil {
			unix.Close(fd)
			return -1, nil, fmt.Errorf("bind 127.0.0.1: %w", err)
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			unix.Close(fd)
			return -1, nil, err
		}
		return fd, sa, nil
	}
	var aAddr, bAddr unix.Sockaddr
	if l.a, aAddr, err = bound(); err != nil {
		return l, err
	}
	if network == "udp" {
		if l.b, bAddr, err = bound(); err != nil {
			return l, err
		}
		if err := unix.Connect(l.a, bAddr); err != nil {
			return l, fmt.Errorf("connect: %w", err)
		}
		if err := unix.Connect(l.b, aAddr); err != nil {
			return l, fmt.Errorf("connect: %w", err)
		}
	} else {
		// a listens, a client connects to it, and what a accepts is b's
		// peer: the pair is the client and the accepted socket.
		if err := unix.Listen(l.a, 1); err != nil {
			return l, fmt.Errorf("listen: %w", err)
		}
		c, _, err := bound()
		if err != nil {
			return l, err
		}
		if err := unix.Connect(c, aAddr); err != nil {
			unix.Close(c)
			return l, fmt.Errorf("connect: %w", err)
		}
		s, _, err := unix.Accept4(l.a, unix.SOCK_CLOEXEC)
		unix.Close(l.a)
		l.a, l.b = c, s
		if err != nil {
			return l, fmt.Errorf("accept: %w", err)
		}
		for _, fd := range []int{l.a, l.b} {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
				return l, fmt.Errorf("TCP_NODELAY: %w", err)
			}
		}
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	for _, fd := range []int{l.a, l.b} {
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return l, fmt.Errorf("SO_RCVTIMEO: %w", err)
		}
	}
	return l, nil
}

// rounds does n round trips and returns ns per round trip.
func (l *loopback) rounds(n int) (float64, error) {
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := l.pass(l.a, l.b, l.out); err != nil {
			return 0, err
		}
		if err := l.pass(l.b, l.a, l.in); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n), nil
}

// pass writes p on from and reads it, whole, into l.in on to.
func (l *loopback) pass(from, to int, p []byte) error {
	if w, err := unix.Write(from, p); err != nil || w != len(p) {
		return fmt.Errorf("%s loopback: write %d bytes: wrote %d: %v", l.network, len(p), w, err)
	}
	return l.receive(to)
}

// receive reads len(l.in) bytes on fd into l.in: one datagram of that
// size, or as many reads of a stream as it takes.
func (l *loopback) receive(fd int) error {
	for got := 0; got < len(l.in); {
		r, err := unix.Read(fd, l.in[got:])
		if err != nil {
			if errors.Is(err, unix.EAGAIN) {
				err = fmt.Errorf("nothing came in %v: %w", l.timeout, err)
			}
			return fmt.Errorf("%s loopback: read: %w", l.network, err)
		}
		if l.network == "udp" && r != len(l.in) {
			return fmt.Errorf("%s loopback: read a datagram of %d bytes, want %d", l.network, r, len(l.in))
		}
		if r == 0 {
			return fmt.Errorf("%s loopback: read: the peer closed", l.network)
		}
		got += r
	}
	return nil
}

// Close closes both sockets.
func (l *loopback) Close() error {
	var errs []error
	for _, fd := range []int{l.a, l.b} {
		if fd >= 0 {
			errs = append(errs, unix.Close(fd))
		}
	}
	l.a, l.b = -1, -1
	return errors.Join(errs...)
}
