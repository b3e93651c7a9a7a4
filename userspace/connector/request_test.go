package connector

import (
	"encoding/binary"
	"errors"
	"testing"
)

// TestTakeReply checks the fast path's test of a datagram: it is the reply
// only if it holds exactly one message (padding to 4 bytes allowed), not a
// netlink error, from the kernel, unicast, that is the reply to req. Every
// datagram it refuses goes the slow way, message by message.
func TestTakeReply(t *testing.T) {
	req := &Message{ID: echoID, Seq: 100}
	msg := func(m Message, pid uint32) []byte {
		b, err := appendNetlink(nil, &m, pid)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := Message{ID: echoID, Seq: 100, Ack: 101, Data: []byte("ping")}
	odd := Message{ID: echoID, Seq: 100, Ack: 101, Data: []byte("abc")}
	setLen := func(b []byte, n uint32) []byte {
		binary.NativeEndian.PutUint32(b, n)
		return b
	}
	tests := []struct {
		name     string
		dgram    []byte
		src      Source
		noAddr   bool // the socket did not learn the sender's address
		wantData string
		want     bool
	}{
		{name: "the reply", dgram: msg(good, 0), wantData: "ping", want: true},
		{name: "the reply, 3 bytes of data", dgram: msg(odd, 0), wantData: "abc", want: true},
		{name: "the reply padded to 4 bytes", dgram: append(msg(odd, 0), 0), wantData: "abc", want: true},
		{name: "the reply, sender known by nlmsg_pid 0", dgram: msg(good, 0), noAddr: true, wantData: "ping", want: true},
		{name: "empty datagram", dgram: nil},
		{name: "shorter than a netlink header", dgram: msg(good, 0)[:nlmsgHdrLen-1]},
		{name: "nlmsg_len shorter than a netlink header", dgram: setLen(msg(good, 0), nlmsgHdrLen-1)},
		{name: "nlmsg_len past the datagram", dgram: setLen(msg(good, 0), 41)},
		{name: "padding past 4-byte alignment", dgram: append(msg(good, 0), 0, 0, 0, 0)},
		{name: "the reply and another message", dgram: append(msg(good, 0), msg(Message{ID: echoID, Seq: 7}, 0)...)},
		{name: "a netlink error", dgram: func() []byte {
			b := msg(good, 0)
			binary.NativeEndian.PutUint16(b[4:6], nlmsgError)
			return b
		}()},
		{name: "from a user space port", dgram: msg(good, 0), src: Source{PortID: 77}},
		{name: "a multicast", dgram: msg(good, 0), src: Source{Groups: 1 << 13}},
		{name: "from a user space port known by nlmsg_pid", dgram: msg(good, 77), noAddr: true},
		{name: "ack = seq", dgram: msg(Message{ID: echoID, Seq: 100, Ack: 100}, 0)},
		{name: "another seq", dgram: msg(Message{ID: echoID, Seq: 99, Ack: 100}, 0)},
		{name: "another id", dgram: msg(Message{ID: ID{14, 0x457}, Seq: 100, Ack: 101}, 0)},
		{name: "cn_msg len disagrees", dgram: func() []byte {
			b := msg(good, 0)
			binary.NativeEndian.PutUint16(b[nlmsgHdrLen+16:], 9)
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := Message{Data: make([]byte, 0, 64)}
			got := takeReply(tt.dgram, tt.src, !tt.noAddr, req, &reply)
			if got != tt.want {
				t.Fatalf("takeReply = %v, want %v", got, tt.want)
			}
			if !tt.want {
				return
			}
			if !reply.IsReplyTo(req.ID, req.Seq) || string(reply.Data) != tt.wantData {
				t.Fatalf("reply %+v (data %q), want the reply to seq %d with data %q", reply, reply.Data, req.Seq, tt.wantData)
			}
			if cap(reply.Data) != 64 {
				t.Fatalf("reply.Data has capacity %d: its buffer was not reused", cap(reply.Data))
			}
		})
	}
}

// exchangeCounter is a fakeSocket that counts the exchanges Conn asks of it,
// the fast path's one call that sends and receives.
type exchangeCounter struct {
	*fakeSocket
	exchanges int
}

func (s *exchangeCounter) exchange(w, r []byte) (int, Source, bool, error, error) {
	s.exchanges++
	return exchangeVia(s.fakeSocket, w, r)
}

// TestRequestFastPath: a Request with nothing pending sends and takes its
// reply in one exchange with the socket. One with messages still pending
// from an earlier datagram sends alone, since the reply must not overwrite
// them in the receive buffer, and they reach Receive first.
func TestRequestFastPath(t *testing.T) {
	s := &exchangeCounter{fakeSocket: &fakeSocket{}}
	s.onWrite = func(s *fakeSocket, req *Message) { s.queueMsg(t, reply(req, req.Seq+1), Source{}) }
	c := newConn(s)
	req := &Message{ID: echoID, Data: []byte("one")}
	got, err := c.Request(t.Context(), req)
	if err != nil || !got.IsReplyTo(echoID, req.Seq) || string(got.Data) != "one" {
		t.Fatalf("Request with nothing pending = %+v, %v; want the reply", got, err)
	}
	if s.exchanges != 1 {
		t.Fatalf("Request with nothing pending: %d exchanges, want 1", s.exchanges)
	}

	// Two messages in one datagram: Receive takes the first and leaves
	// the second pending.
	two := msgDatagram(t, Message{ID: ID{14, 0x4c1}, Seq: 1, Data: []byte("first")})
	two = append(two, make([]byte, align4(len(two))-len(two))...)
	two = append(two, msgDatagram(t, Message{ID: ID{14, 0x4c1}, Seq: 2, Data: []byte("second")})...)
	s.queue(two, Source{Groups: 1 << 19})
	if m, _, err := c.Receive(t.Context()); err != nil || string(m.Data) != "first" {
		t.Fatalf("Receive = %q, %v; want \"first\"", m.Data, err)
	}
	s.exchanges = 0
	req = &Message{ID: echoID, Data: []byte("two")}
	got, err = c.Request(t.Context(), req)
	if err != nil || !got.IsReplyTo(echoID, req.Seq) || string(got.Data) != "two" {
		t.Fatalf("Request with a message pending = %+v (data %q), %v; want the reply", got, got.Data, err)
	}
	if s.exchanges != 0 {
		t.Fatalf("Request with a message pending: %d exchanges, want none", s.exchanges)
	}
	if m, src, err := c.Receive(t.Context()); err != nil || string(m.Data) != "second" || src.Groups != 1<<19 {
		t.Fatalf("Receive after the Request = %q from %+v, %v; want the pending \"second\" from group 20", m.Data, src, err)
	}

	// A send that fails with a message pending fails the Request.
	s.queue(two, Source{Groups: 1 << 19})
	if _, _, err := c.Receive(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.writeErr = errors.New("send refused")
	if _, err := c.Request(t.Context(), &Message{ID: echoID}); !errors.Is(err, s.writeErr) {
		t.Fatalf("Request whose send fails, with a message pending: err = %v, want %v", err, s.writeErr)
	}
}
