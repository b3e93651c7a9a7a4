package connector

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cnlab/cnlab/userspace/wire"
)

const (
	// HeaderLen is the size of struct cn_msg without its data.
	HeaderLen = wire.SizeofCnMsg

	// MaxData is the largest data a message may carry: the connector core
	// drops any netlink message whose payload exceeds
	// CONNECTOR_MAX_MSG_SIZE.
	MaxData = wire.MaxData
)

// Message is a connector message: struct cn_msg and its data.
type Message struct {
	ID    ID
	Seq   uint32
	Ack   uint32
	Flags uint16
	Data  []byte
}

// IsReplyTo reports whether m is the reply to a request with the given id and
// seq: same id, same seq, and ack = seq + 1.
func (m *Message) IsReplyTo(id ID, seq uint32) bool {
	return m.ID == id && m.Seq == seq && m.Ack == seq+1
}

// MarshalBinary encodes m as struct cn_msg followed by its data.
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, HeaderLen+len(m.Data)))
}

// AppendBinary appends m's encoding to b.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	if len(m.Data) > MaxData {
		return b, errTooBig(len(m.Data))
	}
	start := len(b)
	b = slices.Grow(b, HeaderLen+len(m.Data))[:start+HeaderLen+len(m.Data)]
	m.putHeader(b[start:])
	copy(b[start+HeaderLen:], m.Data)
	return b, nil
}

// putHeader writes m's struct cn_msg, len included, at the start of b.
func (m *Message) putHeader(b []byte) {
	_ = b[HeaderLen-1]
	binary.NativeEndian.PutUint32(b[0:4], m.ID.Idx)
	binary.NativeEndian.PutUint32(b[4:8], m.ID.Val)
	binary.NativeEndian.PutUint32(b[8:12], m.Seq)
	binary.NativeEndian.PutUint32(b[12:16], m.Ack)
	binary.NativeEndian.PutUint16(b[16:18], uint16(len(m.Data)))
	binary.NativeEndian.PutUint16(b[18:20], m.Flags)
}

func errTooBig(n int) error {
	return fmt.Errorf("%w: %d bytes of data, the connector takes at most %d (CONNECTOR_MAX_MSG_SIZE - sizeof(struct cn_msg))",
		ErrTooBig, n, MaxData)
}

// UnmarshalBinary decodes a netlink payload holding one struct cn_msg and its
// data. The payload must be exactly the header and len bytes of data, or
// that rounded up to netlink's 4-byte alignment; anything else is
// ErrMalformed. m.Data is a copy.
func (m *Message) UnmarshalBinary(b []byte) error {
	data, err := m.decode(b)
	if err != nil {
		return err
	}
	m.Data = append([]byte(nil), data...)
	return nil
}

// decode fills m's header fields from b and returns the data inside b.
func (m *Message) decode(b []byte) ([]byte, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than struct cn_msg (%d)", ErrMalformed, len(b), HeaderLen)
	}
	n := int(binary.NativeEndian.Uint16(b[16:18]))
	have := len(b) - HeaderLen
	if have != n && have != align4(n) {
		return nil, fmt.Errorf("%w: len says %d bytes of data, %d arrived", ErrMalformed, n, have)
	}
	m.ID.Idx = binary.NativeEndian.Uint32(b[0:4])
	m.ID.Val = binary.NativeEndian.Uint32(b[4:8])
	m.Seq = binary.NativeEndian.Uint32(b[8:12])
	m.Ack = binary.NativeEndian.Uint32(b[12:16])
	m.Flags = binary.NativeEndian.Uint16(b[18:20])
	return b[HeaderLen : HeaderLen+n], nil
}

func align4(n int) int { return (n + 3) &^ 3 }
