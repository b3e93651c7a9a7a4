package connector

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// connectTo makes c's sends go to p instead of the kernel, with p's receive
// buffer as small as the kernel allows, so that p's queue fills.
func connectTo(t *testing.T, c *Conn, p *peer) {
	t.Helper()
	if err := unix.SetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1); err != nil {
		t.Fatal(err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cerr = unix.Connect(int(fd), &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: p.pid})
	}); err != nil || cerr != nil {
		t.Fatalf("connect to the peer: %v, %v", err, cerr)
	}
}

// TestSendToFullQueueReturns: a send that meets EAGAIN (here the receiving
// peer's queue is full) fails with it at once. A netlink socket always polls
// writable, so waiting for POLLOUT only spins.
func TestSendToFullQueueReturns(t *testing.T) {
	c := dialHost(t, nil)
	p := newPeer(t)
	connectTo(t, c, p)
	var sent atomic.Int32
	done := make(chan error, 1)
	go func() {
		for {
			if err := c.Send(&Message{ID: echoID, Data: make([]byte, 1000)}); err != nil {
				done <- err
				return
			}
			if sent.Add(1) > 100000 {
				done <- errors.New("100000 sends and no EAGAIN")
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, unix.EAGAIN) {
			t.Fatalf("Send to a full queue after %d sends: err = %v, want EAGAIN", sent.Load(), err)
		}
	case <-time.After(2 * time.Second):
		c.Close()
		<-done
		t.Fatalf("Send to a full queue still spinning after 2s (%d sends done)", sent.Load())
	}
}

// TestSyscallConnReadLeavesSendsFree: a SyscallConn Read waiting for a
// datagram is a receive: Send does not wait behind it.
func TestSyscallConnReadLeavesSendsFree(t *testing.T) {
	c := dialHost(t, nil)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- rc.Read(func(uintptr) bool { return false })
	}()
	time.Sleep(50 * time.Millisecond) // let it wait
	start := time.Now()
	sent := make(chan error, 1)
	go func() { sent <- c.Send(&Message{ID: ID{14, 0x7777}}) }()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Fatalf("Send took %v behind a waiting SyscallConn Read", d)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("Send still blocked after 2s behind a waiting SyscallConn Read")
	}
	c.Close()
	if err := <-done; err == nil {
		t.Fatal("SyscallConn Read returned nil after Close")
	}
}

// TestSyscallConnWriteDoesNotSpin: SyscallConn's Write calls f again only
// after a pause when it reports not done: the socket always polls
// writable, so waiting for POLLOUT would call f in a busy loop.
func TestSyscallConnWriteDoesNotSpin(t *testing.T) {
	c := dialHost(t, nil)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	calls := 0
	if err := rc.Write(func(uintptr) bool {
		calls++
		return time.Since(start) > 100*time.Millisecond
	}); err != nil {
		t.Fatal(err)
	}
	if calls > 100 {
		t.Fatalf("Write called f %d times in %v: it spins", calls, time.Since(start))
	}
}
