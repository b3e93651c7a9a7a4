package connector

import (
	"bytes"
	"errors"
	"testing"
)

func TestMessageRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
	}{
		{"empty", Message{ID: ID{14, 0x456}}},
		{"one byte", Message{ID: ID{14, 0x456}, Seq: 7, Ack: 8, Flags: 3, Data: []byte{0xaa}}},
		{"largest", Message{ID: ID{1, 2}, Seq: ^uint32(0), Data: bytes.Repeat([]byte{1}, MaxData)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.msg.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			if len(b) != HeaderLen+len(tt.msg.Data) {
				t.Fatalf("encoded %d bytes, want %d", len(b), HeaderLen+len(tt.msg.Data))
			}
			var got Message
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if got.ID != tt.msg.ID || got.Seq != tt.msg.Seq || got.Ack != tt.msg.Ack ||
				got.Flags != tt.msg.Flags || !bytes.Equal(got.Data, tt.msg.Data) {
				t.Fatalf("round trip: got %+v, want %+v", got, tt.msg)
			}
		})
	}
}

func TestMarshalTooBig(t *testing.T) {
	m := Message{Data: make([]byte, MaxData+1)}
	if _, err := m.MarshalBinary(); !errors.Is(err, ErrTooBig) {
		t.Fatalf("MarshalBinary with %d bytes: err = %v, want ErrTooBig", MaxData+1, err)
	}
}

// header returns a struct cn_msg header whose len field is n.
func header(n uint16) []byte {
	m := Message{ID: ID{14, 0x456}, Data: make([]byte, n)}
	b, _ := m.MarshalBinary()
	return b[:HeaderLen]
}

func TestUnmarshalLengths(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		wantLen int
		wantErr bool
	}{
		{"nothing", nil, 0, true},
		{"short header", make([]byte, HeaderLen-1), 0, true},
		{"header only", header(0), 0, false},
		{"exact", append(header(5), 1, 2, 3, 4, 5), 5, false},
		{"padded to 4", append(header(5), 1, 2, 3, 4, 5, 0, 0, 0), 5, false},
		{"padding past alignment", append(header(5), 1, 2, 3, 4, 5, 0, 0, 0, 0), 0, true},
		{"len larger than data", append(header(6), 1, 2, 3, 4, 5), 0, true},
		{"len smaller than data", append(header(1), 1, 2, 3, 4, 5), 0, true},
		{"len zero with data", append(header(0), 1, 2, 3, 4), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := m.UnmarshalBinary(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if len(m.Data) != tt.wantLen {
				t.Fatalf("got %d bytes of data, want %d", len(m.Data), tt.wantLen)
			}
		})
	}
}

func TestParseID(t *testing.T) {
	tests := []struct {
		in      string
		want    ID
		wantErr bool
	}{
		{"14:0x456", ID{14, 0x456}, false},
		{"0xe:1110", ID{14, 1110}, false},
		{" 1 : 2 ", ID{1, 2}, false},
		{"14", ID{}, true},
		{"14:", ID{}, true},
		{"x:1", ID{}, true},
		{"1:4294967296", ID{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseID(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseID(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("ParseID(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	if s := (ID{14, 0x456}).String(); s != "14:0x456" {
		t.Fatalf("String() = %q", s)
	}
}

func TestCheckGroup(t *testing.T) {
	tests := []struct {
		group uint32
		ok    bool
	}{{0, false}, {1, true}, {Groups, true}, {Groups + 1, false}, {32, false}}
	for _, tt := range tests {
		err := checkGroup(tt.group)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrNoSuchGroup)) {
			t.Errorf("checkGroup(%d) = %v, want ok=%v", tt.group, err, tt.ok)
		}
	}
}
