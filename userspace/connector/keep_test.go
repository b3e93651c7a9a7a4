package connector

import (
	"errors"
	"syscall"
	"testing"
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
