package connector

import (
	"encoding/binary"
	"errors"
	"testing"
)

// MaxData bytes of data is a message; one more is not.
func TestAppendNetlinkAtMaxData(t *testing.T) {
	b, err := appendNetlink(nil, &Message{Data: make([]byte, MaxData)}, 7)
	if err != nil || len(b) != nlmsgHdrLen+HeaderLen+MaxData {
		t.Fatalf("MaxData bytes: %d bytes, %v; want %d and no error", len(b), err, nlmsgHdrLen+HeaderLen+MaxData)
	}
	if n := binary.NativeEndian.Uint32(b); n != uint32(len(b)) {
		t.Fatalf("nlmsg_len %d, want %d", n, len(b))
	}
	if _, err := appendNetlink(nil, &Message{Data: make([]byte, MaxData+1)}, 7); err == nil {
		t.Fatal("MaxData+1 bytes: no error")
	}
}

// A netlink message of a bare header is well formed, and the last one
// leaves no rest.
func TestNextNetlinkBareHeader(t *testing.T) {
	h := make([]byte, nlmsgHdrLen)
	binary.NativeEndian.PutUint32(h[0:], nlmsgHdrLen)
	binary.NativeEndian.PutUint16(h[4:], nlmsgDone)
	binary.NativeEndian.PutUint32(h[12:], 99)
	typ, pid, payload, rest, err := nextNetlink(h)
	if err != nil || typ != nlmsgDone || pid != 99 || len(payload) != 0 || len(rest) != 0 {
		t.Fatalf("nextNetlink(bare header) = %d %d %x %x %v", typ, pid, payload, rest, err)
	}
	for _, n := range []uint32{nlmsgHdrLen - 1, nlmsgHdrLen + 1} {
		binary.NativeEndian.PutUint32(h[0:], n)
		if _, _, _, _, err := nextNetlink(h); !errors.Is(err, ErrMalformed) {
			t.Errorf("nlmsg_len %d in %d bytes: err = %v, want ErrMalformed", n, len(h), err)
		}
	}
	if _, _, _, _, err := nextNetlink(h[:nlmsgHdrLen-1]); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d bytes: err = %v, want ErrMalformed", nlmsgHdrLen-1, err)
	}
}
