package vm

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// A VMM is what boots a Machine: it gives the command line of the
// Machine's binary and the source of the guest's events. QEMU and Vng are
// the two; the runner picks one by the name -vmm takes.
type VMM interface {
	// Name is the VMM as messages call it: QEMU, virtme-ng.
	Name() string
	// Command prepares one boot of m: the arguments of m.QEMU, and
	// where the guest's events will come from once it runs. The
	// caller closes the source when the boot is over.
	Command(m *Machine) ([]string, EventSource, error)
}

// An EventSource is where a guest's events come from: a stream of
// guest.Event, one JSON object a line.
type EventSource interface {
	// Open waits for the guest's stream, once the VMM's process (pid)
	// runs; the stream ends when the guest is gone (exited is closed
	// when the VMM's process has exited) or the source is closed.
	Open(pid int, exited <-chan struct{}) (io.ReadCloser, error)
	// Close ends the source: a pending Open returns, an open stream
	// stops.
	Close() error
}

// QEMU boots a Machine with QEMU itself: cnlab's own initramfs and /init,
// the kernel console on ttyS0 (QEMU's stdout), the events on ttyS1.
type QEMU struct{}

// Name is "QEMU".
func (QEMU) Name() string { return "QEMU" }

// Command listens on an abstract unix socket for the results port (nothing
// on the file system to leave behind, whatever ends the runner) and returns
// QEMU's arguments, with ttyS1 connected to it.
func (QEMU) Command(m *Machine) ([]string, EventSource, error) {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	sock := fmt.Sprintf("cnlab-results-%d-%s", os.Getpid(), hex.EncodeToString(nonce[:]))
	ln, err := net.Listen("unix", "@"+sock)
	if err != nil {
		return nil, nil, fmt.Errorf("listen for the results port: %w", err)
	}
	args, err := m.args(sock)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return args, &socketEvents{ln: ln}, nil
}

// socketEvents is the results port: QEMU connects ttyS1 to its socket.
type socketEvents struct {
	ln     net.Listener
	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

// Open takes the first connection from QEMU's process (anything else on the
// machine could connect to an abstract socket first).
func (s *socketEvents) Open(pid int, _ <-chan struct{}) (io.ReadCloser, error) {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return nil, fmt.Errorf("accept the results port: %w", err)
		}
		if p, ok := peerPid(conn); ok && p != pid {
			conn.Close()
			continue
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			conn.Close()
			return nil, fmt.Errorf("accept the results port: %w", net.ErrClosed)
		}
		s.conn = conn
		return conn, nil
	}
}

func (s *socketEvents) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn != nil {
		s.conn.Close()
	}
	return s.ln.Close()
}

// peerPid is the process at the other end of a unix socket connection.
func peerPid(c net.Conn) (int, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) { cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil || credErr != nil {
		return 0, false
	}
	return int(cred.Pid), true
}
