package connector

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeSocket stands in for the kernel's socket in host tests: datagrams are
// queued by the test, or by onWrite, which sees each datagram sent, as a
// connector callback would.
type fakeSocket struct {
	in       []fakeDatagram
	writes   [][]byte
	onWrite  func(s *fakeSocket, sent *Message)
	writeErr error // returned by every write, which then sends nothing
}

type fakeDatagram struct {
	b      []byte
	src    Source
	noAddr bool // the socket did not learn the sender's address
	err    error
}

var errNothingQueued = errors.New("fake socket: nothing queued and the test gave no more")

func (s *fakeSocket) queue(b []byte, src Source) { s.in = append(s.in, fakeDatagram{b: b, src: src}) }

func (s *fakeSocket) queueMsg(t *testing.T, m Message, src Source) {
	t.Helper()
	b, err := appendNetlink(nil, &m, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.queue(b, src)
}

func (s *fakeSocket) write(b []byte) error {
	if s.writeErr != nil {
		return s.writeErr
	}
	s.writes = append(s.writes, append([]byte(nil), b...))
	if s.onWrite != nil {
		_, _, payload, _, err := nextNetlink(b)
		if err != nil {
			return err
		}
		var m Message
		if err := m.UnmarshalBinary(payload); err != nil {
			return err
		}
		s.onWrite(s, &m)
	}
	return nil
}

func (s *fakeSocket) read(b []byte, wait bool) (int, Source, bool, error) {
	if len(s.in) == 0 {
		if !wait {
			return 0, Source{}, true, syscall.EAGAIN
		}
		return 0, Source{}, true, errNothingQueued
	}
	d := s.in[0]
	s.in = s.in[1:]
	if d.err != nil {
		return 0, Source{}, true, d.err
	}
	return copy(b, d.b), d.src, !d.noAddr, nil
}

func (s *fakeSocket) exchange(w, r []byte) (int, Source, bool, error, error) {
	return exchangeVia(s, w, r)
}

// exchangeVia is socket.exchange made of write and read, for fakes.
func exchangeVia(s socket, w, r []byte) (int, Source, bool, error, error) {
	if err := s.write(w); err != nil {
		return 0, Source{}, false, err, nil
	}
	n, src, addr, err := s.read(r, false)
	return n, src, addr, nil, err
}

func (s *fakeSocket) setReadDeadline(time.Time) error { return nil }
func (s *fakeSocket) portID() uint32                  { return 4242 }
func (s *fakeSocket) close() error                    { return nil }
func (s *fakeSocket) release()                        {}

var echoID = ID{14, 0x456}

func reply(m *Message, ack uint32) Message {
	return Message{ID: m.ID, Seq: m.Seq, Ack: ack, Data: m.Data}
}

// kept is a message that Request must set aside for Receive: its data and
// where it came from.
type kept struct {
	data string
	src  Source
}

// TestRequestGenealogy checks connector.rst's rules: only same seq with
// ack = seq + 1, from the kernel, unicast, for the same id, is the reply;
// everything else reaches Receive, in order, with its own source. Each
// decoy carries other data than the reply, so that taking one for the reply
// shows.
func TestRequestGenealogy(t *testing.T) {
	decoy := func(req *Message, ack uint32) Message {
		m := reply(req, ack)
		m.Data = []byte("decoy")
		return m
	}
	tests := []struct {
		name   string
		before func(t *testing.T, s *fakeSocket, req *Message) []kept // queued ahead of the reply
	}{
		{"reply alone", func(*testing.T, *fakeSocket, *Message) []kept { return nil }},
		{"another seq is a new message", func(t *testing.T, s *fakeSocket, req *Message) []kept {
			m := decoy(req, req.Seq)
			m.Seq--
			s.queueMsg(t, m, Source{})
			return []kept{{"decoy", Source{}}}
		}},
		{"same seq, wrong ack is a new message", func(t *testing.T, s *fakeSocket, req *Message) []kept {
			s.queueMsg(t, decoy(req, req.Seq+2), Source{})
			return []kept{{"decoy", Source{}}}
		}},
		{"same seq, ack = seq is a new message", func(t *testing.T, s *fakeSocket, req *Message) []kept {
			s.queueMsg(t, decoy(req, req.Seq), Source{})
			return []kept{{"decoy", Source{}}}
		}},
		{"another id is a new message", func(t *testing.T, s *fakeSocket, req *Message) []kept {
			m := decoy(req, req.Seq+1)
			m.ID.Val++
			s.queueMsg(t, m, Source{})
			return []kept{{"decoy", Source{}}}
		}},
		{"a multicast is a new message", func(t *testing.T, s *fakeSocket, req *Message) []kept {
			s.queueMsg(t, decoy(req, req.Seq+1), Source{Groups: 1 << 13})
			return []kept{{"decoy", Source{Groups: 1 << 13}}}
		}},
		{"a multicast from user space is a new message", func(t *testing.T, s *fakeSocket, req *Message) []kept {
			s.queueMsg(t, decoy(req, req.Seq+1), Source{PortID: 77, Groups: 1 << 13})
			return []kept{{"decoy", Source{PortID: 77, Groups: 1 << 13}}}
		}},
		{"a user space sender is a new message", func(t *testing.T, s *fakeSocket, req *Message) []kept {
			s.queueMsg(t, decoy(req, req.Seq+1), Source{PortID: 77})
			return []kept{{"decoy", Source{PortID: 77}}}
		}},
		{"a user space sender known by nlmsg_pid is a new message", func(t *testing.T, s *fakeSocket, req *Message) []kept {
			m := decoy(req, req.Seq+1)
			b, _ := appendNetlink(nil, &m, 77)
			s.in = append(s.in, fakeDatagram{b: b, noAddr: true})
			return []kept{{"decoy", Source{PortID: 77}}}
		}},
		{"two in one datagram", func(t *testing.T, s *fakeSocket, req *Message) []kept {
			// 1 and 3 bytes of data: each message is followed by
			// padding to netlink's 4-byte alignment.
			a, _ := appendNetlink(nil, &Message{ID: req.ID, Seq: 1, Data: []byte("a")}, 0)
			a = append(a, make([]byte, align4(len(a))-len(a))...)
			b, _ := appendNetlink(a, &Message{ID: req.ID, Seq: 2, Data: []byte("bcd")}, 0)
			s.queue(b, Source{})
			return []kept{{"a", Source{}}, {"bcd", Source{}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &fakeSocket{}
			var want []kept
			s.onWrite = func(s *fakeSocket, req *Message) {
				want = tt.before(t, s, req)
				s.queueMsg(t, reply(req, req.Seq+1), Source{})
			}
			c := newConn(s)
			req := &Message{ID: echoID, Data: []byte("ping")}
			got, err := c.Request(t.Context(), req)
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if !got.IsReplyTo(echoID, req.Seq) || string(got.Data) != "ping" {
				t.Fatalf("Request returned %+v (data %q) for seq %d, want the reply with data \"ping\"", got, got.Data, req.Seq)
			}
			for i, w := range want {
				m, src, err := c.Receive(t.Context())
				if err != nil {
					t.Fatalf("Receive #%d of the kept messages: %v", i+1, err)
				}
				if string(m.Data) != w.data || src != w.src {
					t.Fatalf("kept message #%d: data %q from %+v, want %q from %+v", i+1, m.Data, src, w.data, w.src)
				}
			}
			if _, _, err := c.Receive(t.Context()); !errors.Is(err, errNothingQueued) {
				t.Fatalf("Receive after the %d kept messages: err = %v, want nothing left", len(want), err)
			}
		})
	}
}

func TestRequestAllocatesFreshSeq(t *testing.T) {
	s := &fakeSocket{onWrite: func(s *fakeSocket, req *Message) {
		s.queueMsg(t, reply(req, req.Seq+1), Source{})
	}}
	c := newConn(s)
	seen := map[uint32]bool{}
	for i := 0; i < 100; i++ {
		req := &Message{ID: echoID}
		if _, err := c.Request(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if seen[req.Seq] {
			t.Fatalf("seq %d used twice", req.Seq)
		}
		seen[req.Seq] = true
	}
}

func TestRequestLateDuplicateGoesToReceive(t *testing.T) {
	s := &fakeSocket{onWrite: func(s *fakeSocket, req *Message) {
		s.queueMsg(t, reply(req, req.Seq+1), Source{})
		s.queueMsg(t, reply(req, req.Seq+1), Source{})
	}}
	c := newConn(s)
	first := &Message{ID: echoID}
	if _, err := c.Request(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Request(t.Context(), &Message{ID: echoID}); err != nil {
		t.Fatal(err)
	}
	m, _, err := c.Receive(t.Context())
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if m.Seq != first.Seq {
		t.Fatalf("Receive got seq %d, want the first request's duplicate reply, seq %d", m.Seq, first.Seq)
	}
}

func TestRequestOverrunKeepsReplyAndReportsLoss(t *testing.T) {
	s := &fakeSocket{}
	s.onWrite = func(s *fakeSocket, req *Message) {
		s.in = append(s.in, fakeDatagram{err: syscall.ENOBUFS})
		s.queueMsg(t, reply(req, req.Seq+1), Source{})
	}
	c := newConn(s)
	if _, err := c.Request(t.Context(), &Message{ID: echoID}); err != nil {
		t.Fatalf("Request: %v", err)
	}
	if _, _, err := c.Receive(t.Context()); !errors.Is(err, ErrOverrun) {
		t.Fatalf("Receive after an overrun: err = %v, want ErrOverrun", err)
	}
}

func TestRequestTooBigSendsNothing(t *testing.T) {
	s := &fakeSocket{}
	c := newConn(s)
	_, err := c.Request(t.Context(), &Message{ID: echoID, Data: make([]byte, MaxData+1)})
	if !errors.Is(err, ErrTooBig) {
		t.Fatalf("err = %v, want ErrTooBig", err)
	}
	if len(s.writes) != 0 {
		t.Fatalf("%d datagrams sent, want none", len(s.writes))
	}
}

func TestRequestContextDone(t *testing.T) {
	c := newConn(&fakeSocket{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Request(ctx, &Message{ID: echoID}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRequestNetlinkError(t *testing.T) {
	s := &fakeSocket{}
	s.onWrite = func(s *fakeSocket, req *Message) {
		b := []byte{20, 0, 0, 0, nlmsgError, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xea, 0xff, 0xff, 0xff} // -EINVAL
		s.queue(b, Source{})
	}
	c := newConn(s)
	// The error is not the reply: the Request waits on, and its error
	// names what it kept.
	_, err := c.Request(t.Context(), &Message{ID: echoID})
	if !errors.Is(err, errNothingQueued) || !strings.Contains(err.Error(), "kept for Receive: netlink error from port 0: invalid argument") {
		t.Fatalf("err = %v, want no reply, naming the netlink error kept", err)
	}
	var nerr *NetlinkError
	if _, _, err := c.Receive(t.Context()); !errors.As(err, &nerr) || nerr.Err != syscall.EINVAL || !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Receive after the Request: err = %v, want the NetlinkError EINVAL", err)
	}
}

func TestSourceGroup(t *testing.T) {
	tests := []struct {
		groups, want uint32
	}{{0, 0}, {1, 1}, {1 << 13, 14}, {1 << 31, 32}, {3, 0}}
	for _, tt := range tests {
		if got := (Source{Groups: tt.groups}).Group(); got != tt.want {
			t.Errorf("Source{Groups: %#x}.Group() = %d, want %d", tt.groups, got, tt.want)
		}
	}
}

func TestRequestExplainsWrongAck(t *testing.T) {
	s := &fakeSocket{onWrite: func(s *fakeSocket, req *Message) {
		s.queueMsg(t, reply(req, req.Seq+2), Source{})
	}}
	c := newConn(s)
	req := &Message{ID: echoID}
	_, err := c.Request(t.Context(), req)
	want := fmt.Sprintf("but ack %d arrived, which is not a reply (a reply's ack is seq + 1 = %d)", req.Seq+2, req.Seq+1)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to name the wrong ack: %q", err, want)
	}
}

// TestReceiveSkipsAcks: a netlink error message with error 0 is an ack,
// which Receive passes over; a negative error is reported.
func TestReceiveSkipsAcks(t *testing.T) {
	errMsg := func(errno int32) []byte {
		b := binary.NativeEndian.AppendUint32(nil, nlmsgHdrLen+4)
		b = binary.NativeEndian.AppendUint16(b, nlmsgError)
		b = append(b, make([]byte, 10)...)
		return binary.NativeEndian.AppendUint32(b, uint32(errno))
	}
	s := &fakeSocket{}
	s.queue(append(errMsg(0), msgDatagram(t, Message{ID: echoID, Seq: 5})...), Source{})
	s.queue(errMsg(-int32(syscall.EPERM)), Source{})
	c := newConn(s)
	if m, _, err := c.Receive(t.Context()); err != nil || m.Seq != 5 {
		t.Fatalf("Receive of an ack and a message = seq %d, %v; want the message, seq 5", m.Seq, err)
	}
	if _, _, err := c.Receive(t.Context()); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("Receive of a netlink error -EPERM: err = %v, want EPERM", err)
	}
}

// TestSendRaw: SendRaw wraps b in a netlink header of its own, with the
// length and port id filled in and nothing else checked; WriteRaw sends b
// as it is. Both report a failed write.
func TestSendRaw(t *testing.T) {
	s := &fakeSocket{}
	c := newConn(s)
	payload := []byte{1, 2, 3, 4, 5}
	if err := c.SendRaw(payload); err != nil {
		t.Fatalf("SendRaw: %v", err)
	}
	want := binary.NativeEndian.AppendUint32(nil, nlmsgHdrLen+5)
	want = binary.NativeEndian.AppendUint16(want, nlmsgDone)
	want = binary.NativeEndian.AppendUint16(want, 0)
	want = binary.NativeEndian.AppendUint32(want, 0)
	want = binary.NativeEndian.AppendUint32(want, 4242)
	want = append(want, payload...)
	if err := c.WriteRaw(payload); err != nil {
		t.Fatalf("WriteRaw: %v", err)
	}
	if len(s.writes) != 2 || !bytes.Equal(s.writes[0], want) || !bytes.Equal(s.writes[1], payload) {
		t.Fatalf("sent %x; want SendRaw's %x and WriteRaw's %x", s.writes, want, payload)
	}
	s.writeErr = errors.New("send refused")
	if err := c.SendRaw(payload); !errors.Is(err, s.writeErr) {
		t.Errorf("SendRaw whose write fails: err = %v, want %v", err, s.writeErr)
	}
	if err := c.WriteRaw(payload); !errors.Is(err, s.writeErr) {
		t.Errorf("WriteRaw whose write fails: err = %v, want %v", err, s.writeErr)
	}
}

// TestObserveSeesEveryMessageOnce checks that the observer sees each message
// read once, whichever path takes it: the reply the fast path takes, a reply
// found behind other messages, and those kept for Receive.
func TestObserveSeesEveryMessageOnce(t *testing.T) {
	other := ID{14, 0x4c1}
	s := &fakeSocket{}
	c := newConn(s)
	var seen []Message
	c.Observe(func(m Message, _ Source) {
		m.Data = append([]byte(nil), m.Data...)
		seen = append(seen, m)
	})

	s.onWrite = func(s *fakeSocket, req *Message) { s.queueMsg(t, reply(req, req.Seq+1), Source{}) }
	fast := &Message{ID: echoID, Data: []byte("a")}
	if _, err := c.Request(t.Context(), fast); err != nil {
		t.Fatal(err)
	}
	s.onWrite = func(s *fakeSocket, req *Message) {
		s.queueMsg(t, Message{ID: other, Seq: 7}, Source{Groups: 1 << 20})
		s.queueMsg(t, reply(req, req.Seq+1), Source{})
	}
	slow := &Message{ID: echoID, Data: []byte("b")}
	if _, err := c.Request(t.Context(), slow); err != nil {
		t.Fatal(err)
	}
	if m, _, err := c.Receive(t.Context()); err != nil || m.Seq != 7 {
		t.Fatalf("Receive = seq %d, %v; want the broadcast kept aside, seq 7", m.Seq, err)
	}
	c.Observe(nil)
	s.queueMsg(t, Message{ID: other, Seq: 8}, Source{Groups: 1 << 20})
	if _, _, err := c.Receive(t.Context()); err != nil {
		t.Fatal(err)
	}

	want := []Message{
		{ID: echoID, Seq: fast.Seq, Ack: fast.Seq + 1, Data: []byte("a")},
		{ID: other, Seq: 7, Data: []byte{}},
		{ID: echoID, Seq: slow.Seq, Ack: slow.Seq + 1, Data: []byte("b")},
	}
	if len(seen) != len(want) {
		t.Fatalf("observed %d messages, want %d: %+v", len(seen), len(want), seen)
	}
	for i := range want {
		if seen[i].ID != want[i].ID || seen[i].Seq != want[i].Seq || seen[i].Ack != want[i].Ack || string(seen[i].Data) != string(want[i].Data) {
			t.Errorf("observed[%d] = %+v, want %+v", i, seen[i], want[i])
		}
	}
}
