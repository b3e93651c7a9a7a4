package connector

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

// netlinkErrorDatagram is a netlink error message carrying -errno.
func netlinkErrorDatagram(errno syscall.Errno) []byte {
	b := []byte{20, 0, 0, 0, nlmsgError, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	e := -int32(errno)
	return append(b, byte(e), byte(e>>8), byte(e>>16), byte(e>>24))
}

// TestRequestKeepsErrorsForReceive: a truncated datagram or a netlink
// error message that arrives while a Request waits is not its reply and
// does not end it: the Request takes the reply behind it, and Receive then
// reports the error, as the docs promise a connection that stays usable.
func TestRequestKeepsErrorsForReceive(t *testing.T) {
	tests := []struct {
		name  string
		queue func(s *fakeSocket)
		want  error
	}{
		{"truncated datagram", func(s *fakeSocket) {
			s.in = append(s.in, fakeDatagram{err: truncated(70000, rbufSize)})
		}, ErrTruncated},
		{"netlink error", func(s *fakeSocket) { s.queue(netlinkErrorDatagram(syscall.EINVAL), Source{}) }, syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &fakeSocket{onWrite: func(s *fakeSocket, req *Message) {
				tt.queue(s)
				s.queueMsg(t, reply(req, req.Seq+1), Source{})
			}}
			c := newConn(s)
			req := &Message{ID: echoID, Data: []byte("ping")}
			got, err := c.Request(t.Context(), req)
			if err != nil || !got.IsReplyTo(echoID, req.Seq) {
				t.Fatalf("Request with a %s ahead of its reply: %+v, %v; want the reply", tt.name, got, err)
			}
			if _, _, err := c.Receive(t.Context()); !errors.Is(err, tt.want) {
				t.Fatalf("Receive after the Request: err = %v, want the %s (%v)", err, tt.name, tt.want)
			}
			if _, _, err := c.Receive(t.Context()); !errors.Is(err, errNothingQueued) {
				t.Fatalf("Receive after the kept error: err = %v, want nothing left", err)
			}
		})
	}
}

// TestRequestKeepsTruncationOnHost: a datagram larger than the receive
// buffer, queued on a real socket ahead of the reply, does not end the
// Request. The reply is forged by a peer (root may send to any port) with
// nlmsg_pid 0, which a socket in no group takes for the kernel.
func TestRequestKeepsTruncationOnHost(t *testing.T) {
	c := dialHost(t, nil)
	if err := c.SetReadBuffer(1<<20, false); err != nil {
		t.Fatal(err)
	}
	p := newPeer(t)
	big := make([]byte, 70000)
	copy(big, msgDatagram(t, Message{ID: echoID}))
	p.sendRaw(t, c.PortID(), 0, big)
	seq := c.seq.Load() + 1
	p.sendTo(t, c.PortID(), 0, Message{ID: echoID, Seq: seq, Ack: seq + 1, Data: []byte("pong")})
	var reply Message
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	req := &Message{ID: echoID}
	if err := c.RequestInto(ctx, req, &reply); err != nil || req.Seq != seq || string(reply.Data) != "pong" {
		t.Fatalf("Request (seq %d) with a 70000-byte datagram ahead of its reply (seq %d): data %q, %v; want \"pong\"", req.Seq, seq, reply.Data, err)
	}
	if _, _, err := receiveWithin(t, c, 2*time.Second); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Receive after the Request: err = %v, want ErrTruncated", err)
	}
}
