package connector

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzUnmarshal checks that any input either fails with an error or decodes
// to a message whose data lies within the input and re-encodes to it.
func FuzzUnmarshal(f *testing.F) {
	f.Add(header(0))
	f.Add(append(header(3), 1, 2, 3, 0))
	f.Add(append(header(9), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		if len(m.Data) > len(b)-HeaderLen {
			t.Fatalf("decoded %d bytes of data from %d bytes of input", len(m.Data), len(b))
		}
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(enc, b[:len(enc)]) {
			t.Fatalf("re-encoding differs from the input")
		}
	})
}

// FuzzDatagram feeds arbitrary datagrams to a Conn and checks that it never
// panics and hands out exactly the messages that the datagram holds at
// netlink's aligned offsets, in order: each message at its offset must
// decode to what Receive returned, and the next starts at the offset plus
// nlmsg_len rounded up to 4 (computed here, not with the package's align4).
func FuzzDatagram(f *testing.F) {
	one, _ := appendNetlink(nil, &Message{ID: ID{14, 0x456}, Seq: 1, Ack: 2, Data: []byte("hi")}, 0)
	f.Add(one)
	f.Add(append(append([]byte{}, one...), one...))
	odd, _ := appendNetlink(nil, &Message{ID: ID{14, 0x456}, Seq: 1, Data: []byte{7}}, 0)
	odd = append(odd, 0, 0, 0)
	odd, _ = appendNetlink(odd, &Message{ID: ID{14, 0x456}, Seq: 2, Data: []byte{8, 9, 10}}, 0)
	f.Add(odd)
	f.Add([]byte{4, 0, 0, 0})
	f.Fuzz(func(t *testing.T, dgram []byte) {
		s := &fakeSocket{}
		s.queue(dgram, Source{})
		c := newConn(s)
		off := 0
		for i := 0; i < 64; i++ {
			m, _, err := c.Receive(t.Context())
			if err != nil {
				return
			}
			// Skip the acks (error messages with errno 0) that
			// Receive skips.
			var want Message
			for {
				if len(dgram)-off < nlmsgHdrLen {
					t.Fatalf("message %d handed out with %d bytes left at offset %d", i, len(dgram)-off, off)
				}
				n := int(binary.NativeEndian.Uint32(dgram[off:]))
				if n < nlmsgHdrLen || off+n > len(dgram) {
					t.Fatalf("message %d handed out, but nlmsg_len at offset %d is %d in a %d-byte datagram", i, off, n, len(dgram))
				}
				typ := binary.NativeEndian.Uint16(dgram[off+4:])
				payload := dgram[off+nlmsgHdrLen : off+n]
				off += (n + 3) &^ 3
				if typ == nlmsgError {
					continue
				}
				if err := want.UnmarshalBinary(payload); err != nil {
					t.Fatalf("message %d handed out, but the payload at its offset does not decode: %v", i, err)
				}
				break
			}
			if m.ID != want.ID || m.Seq != want.Seq || m.Ack != want.Ack || m.Flags != want.Flags || !bytes.Equal(m.Data, want.Data) {
				t.Fatalf("message %d: Receive returned %+v, the datagram holds %+v at its offset", i, m, want)
			}
		}
	})
}
