package connector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Tests of the Linux socket itself, on the host's connector with a second
// socket as the peer (see conn_linux_test.go).

// TestCloseWhileSettingOptions: a Close that lands while SetReadBuffer or
// ReadBuffer waits for the socket makes it fail with net.ErrClosed, not
// succeed without having done anything.
func TestCloseWhileSettingOptions(t *testing.T) {
	tests := []struct {
		name string
		call func(c *Conn) error
	}{
		{"SetReadBuffer", func(c *Conn) error { return c.SetReadBuffer(8192, false) }},
		{"ReadBuffer", func(c *Conn) error {
			n, err := c.ReadBuffer()
			if err == nil {
				return fmt.Errorf("no error, a size of %d", n)
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialHost(t, nil)
			s := c.sock.(*linuxSocket)
			// Hold the lock that the call waits for, so that Close
			// lands between its check and its use of the socket.
			c.sendMu.Lock()
			done := make(chan error, 1)
			go func() { done <- tt.call(c) }()
			time.Sleep(50 * time.Millisecond) // let it wait for the lock
			closed := make(chan error, 1)
			go func() { closed <- c.Close() }()
			for !s.closed.Load() {
				time.Sleep(time.Millisecond)
			}
			c.sendMu.Unlock()
			if err := <-done; !errors.Is(err, net.ErrClosed) {
				t.Errorf("%s with Close landing meanwhile: err = %v, want net.ErrClosed", tt.name, err)
			}
			if err := <-closed; err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// TestClosedErr: an error met on a socket closed meanwhile, or the
// runtime's own closed-file error, is net.ErrClosed; others stay as they
// are.
func TestClosedErr(t *testing.T) {
	tests := []struct {
		name   string
		closed bool
		err    error
		want   error
	}{
		{"no error", false, nil, nil},
		{"no error, closed", true, nil, nil},
		{"an error", false, unix.EPERM, unix.EPERM},
		{"an error, closed", true, unix.EPERM, net.ErrClosed},
		{"os.ErrClosed", false, fmt.Errorf("setsockopt: %w", os.ErrClosed), net.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &linuxSocket{}
			s.closed.Store(tt.closed)
			if got := s.closedErr(tt.err); got != tt.want {
				t.Fatalf("closedErr(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestSourceAfterGroups: once a group has been joined, the socket asks for
// each sender's address; before, it takes the sender from nlmsg_pid and
// saves the copy. Leaving its last group does not bring it back to that
// (multicasts may still be queued: see TestMulticastSourceAroundGroupChanges),
// and leaving a group never joined changes nothing. A peer's unicast with a
// forged nlmsg_pid shows which it does.
func TestSourceAfterGroups(t *testing.T) {
	const forged = 12345
	type op struct {
		join  bool
		group uint32
	}
	tests := []struct {
		name    string
		ops     []op
		address bool
	}{
		{"no group", nil, false},
		{"joined 3", []op{{true, 3}}, true},
		{"joined and left 3", []op{{true, 3}, {false, 3}}, true},
		{"left 3, never joined", []op{{false, 3}}, false},
		{"joined 3, left 5", []op{{true, 3}, {false, 5}}, true},
		{"joined 3 and 5, left 5", []op{{true, 3}, {true, 5}, {false, 5}}, true},
		{"joined 3 and 5, left 3", []op{{true, 3}, {true, 5}, {false, 3}}, true},
		{"joined 3 and 5, left both", []op{{true, 3}, {true, 5}, {false, 3}, {false, 5}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialHost(t, nil)
			p := newPeer(t)
			for _, o := range tt.ops {
				if o.join {
					if err := c.JoinGroup(o.group); err != nil {
						t.Skipf("join group %d: %v", o.group, err)
					}
				} else if err := c.LeaveGroup(o.group); err != nil {
					t.Fatalf("leave group %d: %v", o.group, err)
				}
			}
			b, err := appendNetlink(nil, &Message{ID: echoID, Seq: 6}, forged)
			if err != nil {
				t.Fatal(err)
			}
			p.sendRaw(t, c.PortID(), 0, b)
			var src Source
			for {
				// Pass over what the host's own connector users
				// multicast to the groups meanwhile.
				m, s, err := receiveWithin(t, c, 2*time.Second)
				if err != nil {
					t.Fatalf("Receive: %v", err)
				}
				if m.ID == echoID && m.Seq == 6 && s.Groups == 0 {
					src = s
					break
				}
			}
			want := Source{PortID: forged}
			if tt.address {
				want = Source{PortID: p.pid}
			}
			if src != want {
				t.Fatalf("a unicast from port %d with nlmsg_pid %d arrived from %+v, want %+v", p.pid, forged, src, want)
			}
		})
	}
}

// TestDatagramFillsBuffer: a datagram that fills the receive buffer exactly
// is whole; one a byte larger is ErrTruncated.
func TestDatagramFillsBuffer(t *testing.T) {
	c := dialHost(t, nil)
	if err := c.SetReadBuffer(1<<20, false); err != nil {
		t.Fatal(err)
	}
	p := newPeer(t)
	full := fullDatagram(t)
	p.sendRaw(t, c.PortID(), 0, full)
	for i := 0; i < 4; i++ {
		if m, _, err := receiveWithin(t, c, 2*time.Second); err != nil || m.Seq != uint32(i) {
			t.Fatalf("Receive #%d of a %d-byte datagram: seq %d, %v; want seq %d", i+1, len(full), m.Seq, err, i)
		}
	}
	p.sendRaw(t, c.PortID(), 0, append(full, 0))
	if _, _, err := receiveWithin(t, c, 2*time.Second); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Receive of a %d-byte datagram: err = %v, want ErrTruncated", len(full)+1, err)
	}
}

// TestWaitRetriesInterrupts: a signal that interrupts a Receive waiting in
// ppoll (EINTR) does not end it.
func TestWaitRetriesInterrupts(t *testing.T) {
	c := dialHost(t, nil)
	p := newPeer(t)
	tid := make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		m, _, err := receiveWithin(t, c, 5*time.Second)
		if err == nil && m.Seq != 3 {
			err = fmt.Errorf("seq %d, want 3", m.Seq)
		}
		done <- err
	}()
	waiter := <-tid
	// SIGURG is the Go runtime's preemption signal, which it takes in
	// its stride wherever it lands.
	for i := 0; i < 20; i++ {
		time.Sleep(5 * time.Millisecond)
		if err := unix.Tgkill(unix.Getpid(), waiter, unix.SIGURG); err != nil {
			t.Fatalf("tgkill: %v", err)
		}
	}
	p.sendTo(t, c.PortID(), 0, Message{ID: echoID, Seq: 3})
	if err := <-done; err != nil {
		t.Fatalf("Receive interrupted by signals while it waited: %v", err)
	}
}

// TestDeadlineAtEpoch: a read deadline at or before the Unix epoch is in
// the past, not "no deadline", whose encoding is 0.
func TestDeadlineAtEpoch(t *testing.T) {
	c := dialHost(t, nil)
	s := c.sock.(*linuxSocket)
	for _, dl := range []time.Time{time.Unix(0, 0), time.Unix(-1, 0)} {
		if err := s.setReadDeadline(dl); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_ = c.recvMu.lock(context.Background())
			defer c.recvMu.unlock()
			_, _, _, err := s.read(c.rbuf, true)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read with the deadline %v: err = %v, want os.ErrDeadlineExceeded", dl, err)
			}
		case <-time.After(5 * time.Second):
			c.Close()
			<-done
			t.Fatalf("read with the deadline %v still waiting after 5s", dl)
		}
	}
}

// TestCancelWakesReceiveOnHost is TestCancelWakesReceive on a real socket.
func TestCancelWakesReceiveOnHost(t *testing.T) {
	checkCancelWakesReceive(t, dialHost(t, nil))
}

// countFDs returns how many descriptors the process has open.
func countFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(fds)
}

// fdOpen reports whether fd is an open descriptor.
func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err != syscall.EBADF
}

// TestCloseReleasesDescriptors: Close closes the socket's descriptors, the
// socket's and its eventfds, once: a second Close closes nothing else.
func TestCloseReleasesDescriptors(t *testing.T) {
	newPeer(t) // skips where there is no socket
	before := countFDs(t)
	for i := 0; i < 10; i++ {
		c, err := Dial(nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if after := countFDs(t); after > before+2 {
		t.Fatalf("%d descriptors open after 10 Dials and Closes, %d before", after, before)
	}

	// A second Close must not close a descriptor the process has since
	// reused: stdout, say.
	saved, err := unix.Dup(1)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(saved)
	c, err := Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if !fdOpen(1) {
		unix.Dup2(saved, 1)
		t.Fatal("the second Close closed descriptor 1")
	}
}

// TestCloseReleasesDescriptorZero: a socket that gets descriptor 0, as in
// a daemon that closed its standard input, is closed too.
func TestCloseReleasesDescriptorZero(t *testing.T) {
	newPeer(t) // skips where there is no socket
	saved, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(saved)
	defer unix.Dup2(saved, 0)
	unix.Close(0)
	c, err := Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	if fd := c.sock.(*linuxSocket).fd; fd != 0 {
		c.Close()
		t.Skipf("the socket got descriptor %d, not 0", fd)
	}
	c.Close()
	if fdOpen(0) {
		t.Fatal("descriptor 0, the socket's, still open after Close")
	}
}

// TestSyscallConnRead: SyscallConn's Read calls f until it reports done,
// waiting for the socket to be readable between calls.
func TestSyscallConnRead(t *testing.T) {
	c := dialHost(t, nil)
	p := newPeer(t)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		p.sendTo(t, c.PortID(), 0, Message{ID: echoID, Seq: 4})
	}()
	buf := make([]byte, 4096)
	var got []byte
	calls := 0
	err = rc.Read(func(fd uintptr) bool {
		calls++
		n, _, rerr := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
		if rerr == nil {
			got = buf[:n]
		}
		return rerr != unix.EAGAIN
	})
	if err != nil || got == nil {
		t.Fatalf("Read: %v after %d calls of f, %d bytes read; want the datagram", err, calls, len(got))
	}
	var m Message
	if _, _, payload, _, err := nextNetlink(got); err != nil || m.UnmarshalBinary(payload) != nil || m.Seq != 4 {
		t.Fatalf("Read got %x, want the message with seq 4", got)
	}
}

// TestSendRefused: a send the kernel refuses (here a datagram larger than
// the send buffer, EMSGSIZE) fails the Send, or the Request at once, with
// the kernel's error.
func TestSendRefused(t *testing.T) {
	c := dialHost(t, nil)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 1) }); err != nil || serr != nil {
		t.Fatalf("SO_SNDBUF: %v, %v", err, serr)
	}
	big := &Message{ID: echoID, Data: make([]byte, MaxData)}
	if err := c.Send(big); !errors.Is(err, unix.EMSGSIZE) {
		t.Errorf("Send of %d bytes with the smallest send buffer: err = %v, want EMSGSIZE", MaxData, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if _, err := c.Request(ctx, big); !errors.Is(err, unix.EMSGSIZE) {
		t.Errorf("Request of %d bytes with the smallest send buffer: err = %v, want EMSGSIZE", MaxData, err)
	}
}
