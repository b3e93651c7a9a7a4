package connector

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Dial sets the receive buffer it is given, and only then: the kernel
// doubles what SO_RCVBUF asks for, for its own overhead.
func TestDialReadBuffer(t *testing.T) {
	def := dialHost(t, nil)
	dflt, err := def.ReadBuffer()
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t)
	plain, err := unix.GetsockoptInt(p.fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		t.Fatal(err)
	}
	if dflt != plain {
		t.Fatalf("Dial(nil): ReadBuffer() = %d, want the kernel's default %d", dflt, plain)
	}
	if zero, err := dialHost(t, &Config{}).ReadBuffer(); err != nil || zero != plain {
		t.Fatalf("Dial with ReadBuffer 0: ReadBuffer() = %d, %v; want the kernel's default %d", zero, err, plain)
	}
	c := dialHost(t, &Config{ReadBuffer: 8192})
	got, err := c.ReadBuffer()
	if err != nil {
		t.Fatal(err)
	}
	if got != 2*8192 {
		t.Fatalf("ReadBuffer() = %d after asking for 8192, want %d", got, 2*8192)
	}
	if dflt == got {
		t.Fatalf("the default receive buffer is %d too: pick another size", dflt)
	}
}

// TestDialGroups: Dial joins the groups it is given, and fails for one the
// connector does not have.
func TestDialGroups(t *testing.T) {
	c := dialHost(t, &Config{Groups: []uint32{3, 5}})
	p := newPeer(t)
	for _, g := range []uint32{3, 5} {
		p.sendTo(t, 0, 1<<(g-1), Message{ID: ID{14, 0x4c1}, Seq: g})
		m, src, err := receiveWithin(t, c, 2*time.Second)
		if err != nil || m.Seq != g || src.Group() != g {
			t.Fatalf("multicast on group %d: seq %d from %+v, %v", g, m.Seq, src, err)
		}
	}
	if _, err := Dial(&Config{Groups: []uint32{3, Groups + 1}}); !errors.Is(err, ErrNoSuchGroup) {
		t.Fatalf("Dial with group %d: err = %v, want ErrNoSuchGroup", Groups+1, err)
	}
}
