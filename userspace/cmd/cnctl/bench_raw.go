package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"syscall"
	"time"
	"unsafe"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// benchRaw times the floor under the Go client: a loop of bare system calls
// (sendto as an ordinary system call, a non-blocking recvfrom) on a socket
// of its own, as the C reference client does, and the same loop on a
// socket that the Go runtime's poller watches (epoll), as every Go socket
// is. The client's round trip minus the second is what the client's own
// code costs; the second minus the first, what the poller's watch costs in
// the kernel.
func benchRaw(w io.Writer, id connector.ID, size, n, rounds int) error {
	own, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return err
	}
	defer unix.Close(own)
	if err := unix.Bind(own, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	nl, err := netlink.Dial(unix.NETLINK_CONNECTOR, nil)
	if err != nil {
		return err
	}
	defer nl.Close()
	raw, err := nl.SyscallConn()
	if err != nil {
		return err
	}
	var watched int
	if err := raw.Control(func(fd uintptr) { watched, err = unix.Dup(int(fd)) }); err != nil {
		return err
	}
	defer unix.Close(watched)

	fds := []struct {
		name string
		fd   int
	}{{"Go syscalls, own socket", own}, {"Go syscalls, epoll-watched", watched}}
	req := make([]byte, 16+connector.HeaderLen+size)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], 3)
	binary.NativeEndian.PutUint32(req[16:], id.Idx)
	binary.NativeEndian.PutUint32(req[20:], id.Val)
	binary.NativeEndian.PutUint16(req[32:], uint16(size))
	rep := make([]byte, 64<<10)
	fmt.Fprintf(w, "\nthe floor: bare system calls, %d rounds of %d\n", rounds, n)
	for _, f := range fds {
		var ns []float64
		for r := 0; r < rounds; r++ {
			start := time.Now()
			for i := 0; i < n; i++ {
				binary.NativeEndian.PutUint32(req[24:], uint32(i))
				if _, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(f.fd), uintptr(unsafe.Pointer(&req[0])), uintptr(len(req)), 0, 0, 0); e != 0 {
					return fmt.Errorf("%s: sendto: %w", f.name, e)
				}
				if _, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(f.fd), uintptr(unsafe.Pointer(&rep[0])), uintptr(len(rep)), unix.MSG_DONTWAIT, 0, 0); e != 0 {
					return fmt.Errorf("%s: recvfrom: %w", f.name, syscall.Errno(e))
				}
			}
			ns = append(ns, float64(time.Since(start).Nanoseconds())/float64(n))
		}
		st := summarize(ns)
		fmt.Fprintf(w, "%-28s %10.0f %10.0f %10.0f\n", f.name, st.median, st.min, st.max)
	}
	return nil
}
