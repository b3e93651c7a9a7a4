package connector

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests use real NETLINK_CONNECTOR sockets on the host, with a second
// socket as the peer that sends: no module and no callback is involved, and
// messages sent to the kernel go nowhere. They skip where such a socket
// cannot be opened or a multicast not sent (which needs CAP_NET_ADMIN).

// dialHost dials the host's connector, which lets root open
// NETLINK_CONNECTOR sockets without any module. It skips where a plain
// socket of the family cannot be opened, and fails if Dial fails where one
// can: a Dial broken everywhere must not pass as a host without sockets.
func dialHost(t *testing.T, cfg *Config) *Conn {
	t.Helper()
	newPeer(t)
	c, err := Dial(cfg)
	if err != nil {
		t.Fatalf("Dial(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// peer is a plain netlink socket that sends datagrams as another process
// would.
type peer struct {
	fd  int
	pid uint32
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		t.Skipf("no NETLINK_CONNECTOR socket on this host: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return &peer{fd: fd, pid: sa.(*unix.SockaddrNetlink).Pid}
}

func (p *peer) sendTo(t *testing.T, portID, groups uint32, m Message) {
	t.Helper()
	p.sendRaw(t, portID, groups, msgDatagram(t, m))
}

func (p *peer) sendRaw(t *testing.T, portID, groups uint32, b []byte) {
	t.Helper()
	err := unix.Sendto(p.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: portID, Groups: groups})
	if errors.Is(err, unix.EPERM) {
		t.Skipf("sending to a group needs CAP_NET_ADMIN: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func receiveWithin(t *testing.T, c *Conn, d time.Duration) (Message, Source, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return c.Receive(ctx)
}

// TestLeavingUnjoinedGroupKeepsSources: leaving a group never joined must
// not make the socket forget that it is in another, or a multicast arrives
// looking like a unicast from the kernel.
func TestLeavingUnjoinedGroupKeepsSources(t *testing.T) {
	c := dialHost(t, nil)
	p := newPeer(t)
	if err := c.JoinGroup(3); err != nil {
		t.Skipf("join group 3: %v", err)
	}
	if err := c.LeaveGroup(5); err != nil {
		t.Fatalf("leave group 5: %v", err)
	}
	p.sendTo(t, 0, 1<<2, Message{ID: ID{14, 0x4c1}, Seq: 1})
	_, src, err := receiveWithin(t, c, 2*time.Second)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if want := (Source{PortID: p.pid, Groups: 1 << 2}); src != want {
		t.Fatalf("multicast on group 3 arrived as %+v, want %+v", src, want)
	}
}

// TestSendDoesNotWaitForReceive: a Send must not wait behind a Receive
// blocked on the same Conn.
func TestSendDoesNotWaitForReceive(t *testing.T) {
	c := dialHost(t, nil)
	go receiveWithin(t, c, 2*time.Second)
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := c.Send(&Message{ID: ID{14, 0x7777}}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Fatalf("Send took %v behind a blocked Receive", d)
	}
}

// TestErrorsAfterClose: every call on a closed Conn, and a Receive that was
// waiting when it closed, fail with net.ErrClosed.
func TestErrorsAfterClose(t *testing.T) {
	c := dialHost(t, nil)
	done := make(chan error, 1)
	go func() {
		_, _, err := receiveWithin(t, c, 5*time.Second)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	calls := map[string]error{"blocked Receive": <-done}
	_, _, calls["Receive"] = c.Receive(t.Context())
	_, calls["Request"] = c.Request(t.Context(), &Message{ID: echoID})
	calls["Send"] = c.Send(&Message{ID: echoID})
	calls["JoinGroup"] = c.JoinGroup(3)
	calls["LeaveGroup"] = c.LeaveGroup(3)
	calls["SetReadBuffer"] = c.SetReadBuffer(1<<16, false)
	_, calls["ReadBuffer"] = c.ReadBuffer()
	for name, err := range calls {
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want net.ErrClosed", name, err)
		}
	}
}

// TestOversizeDatagramIsTruncated: a datagram larger than the receive
// buffer is reported as truncated, not as a malformed message.
func TestOversizeDatagramIsTruncated(t *testing.T) {
	c := dialHost(t, nil)
	if err := c.SetReadBuffer(1<<20, false); err != nil {
		t.Fatal(err)
	}
	p := newPeer(t)
	big := make([]byte, 70000)
	copy(big, msgDatagram(t, Message{ID: echoID}))
	p.sendRaw(t, c.PortID(), 0, big)
	_, _, err := receiveWithin(t, c, 2*time.Second)
	if !errors.Is(err, ErrTruncated) || errors.Is(err, ErrMalformed) {
		t.Fatalf("Receive of a 70000-byte datagram: err = %v, want ErrTruncated", err)
	}
	// The connection stays usable.
	p.sendTo(t, c.PortID(), 0, Message{ID: echoID, Seq: 5})
	if m, _, err := receiveWithin(t, c, 2*time.Second); err != nil || m.Seq != 5 {
		t.Fatalf("Receive after the truncated datagram: seq %d, %v", m.Seq, err)
	}
}

// TestWritesTellTheScheduler: a send runs the connector callback inside
// write(2), which can sleep and run long; a raw system call hides that from
// the Go scheduler, so every write must be an ordinary system call.
func TestWritesTellTheScheduler(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "socket_linux.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !strings.HasPrefix(sel.Sel.Name, "RawSyscall") {
			return true
		}
		if nr, ok := call.Args[0].(*ast.SelectorExpr); ok && (nr.Sel.Name == "SYS_WRITE" || nr.Sel.Name == "SYS_SENDTO" || nr.Sel.Name == "SYS_SENDMSG") {
			t.Errorf("socket_linux.go: %s with %s: writes must use unix.Syscall", sel.Sel.Name, nr.Sel.Name)
		}
		return true
	})
}

// TestInterruptedReceiveIsRetried: a receive interrupted by a signal
// (EINTR), waiting or not, is retried rather than reported.
func TestInterruptedReceiveIsRetried(t *testing.T) {
	c := dialHost(t, nil)
	p := newPeer(t)
	interrupts := 0
	recvFault = func() unix.Errno {
		if interrupts < 2 {
			interrupts++
			return unix.EINTR
		}
		return 0
	}
	t.Cleanup(func() { recvFault = nil })
	go func() {
		time.Sleep(50 * time.Millisecond)
		p.sendTo(t, c.PortID(), 0, Message{ID: echoID, Seq: 9})
	}()
	m, _, err := receiveWithin(t, c, 2*time.Second)
	if err != nil || m.Seq != 9 {
		t.Fatalf("Receive with %d interrupted receives: seq %d, %v", interrupts, m.Seq, err)
	}
}

// TestCancelledReceivesOnHost is the reproduction on real sockets:
// Receives cancelled while datagrams arrive, each followed by a Receive
// without a deadline, which must get its message.
func TestCancelledReceivesOnHost(t *testing.T) {
	c := dialHost(t, nil)
	p := newPeer(t)
	for i := 0; i < 300; i++ {
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(time.Duration(i%7) * 50 * time.Microsecond)
			cancel()
		}()
		go p.sendTo(t, c.PortID(), 0, Message{ID: echoID, Seq: 1})
		if _, _, err := c.Receive(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("try %d: cancelled Receive: %v", i, err)
		}
		cancel()
		go p.sendTo(t, c.PortID(), 0, Message{ID: echoID, Seq: 2})
		for {
			m, _, err := c.Receive(context.Background())
			if err != nil {
				t.Fatalf("try %d: Receive without a deadline after a cancelled one: %v", i, err)
			}
			if m.Seq == 2 {
				break
			}
		}
	}
}

// TestDeadlineOnHost: a Receive waits until its deadline and no longer,
// and SyscallConn's Control reaches the socket.
func TestDeadlineOnHost(t *testing.T) {
	c := dialHost(t, nil)
	start := time.Now()
	if _, _, err := receiveWithin(t, c, 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive: err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Receive gave up after %v, want 50ms", d)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var typ int
	var serr error
	if err := rc.Control(func(fd uintptr) { typ, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL) }); err != nil || serr != nil {
		t.Fatalf("Control: %v, %v", err, serr)
	}
	if typ != unix.NETLINK_CONNECTOR {
		t.Fatalf("SO_PROTOCOL = %d, want NETLINK_CONNECTOR", typ)
	}
}
