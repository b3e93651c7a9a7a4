package connector

import (
	"bytes"
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
// panics and hands out only well-formed messages.
func FuzzDatagram(f *testing.F) {
	one, _ := appendNetlink(nil, &Message{ID: ID{14, 0x456}, Seq: 1, Ack: 2, Data: []byte("hi")}, 0)
	f.Add(one)
	f.Add(append(append([]byte{}, one...), one...))
	f.Add([]byte{4, 0, 0, 0})
	f.Fuzz(func(t *testing.T, dgram []byte) {
		s := &fakeSocket{}
		s.queue(dgram, Source{})
		c := newConn(s)
		for i := 0; i < 64; i++ {
			m, _, err := c.Receive(t.Context())
			if err != nil {
				return
			}
			if len(m.Data) > len(dgram) {
				t.Fatalf("message with %d bytes of data from a %d-byte datagram", len(m.Data), len(dgram))
			}
		}
	})
}
