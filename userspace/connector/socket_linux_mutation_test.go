//go:build linux

package connector

import "testing"

// Dial sets the receive buffer it is given, and only then: the kernel
// doubles what SO_RCVBUF asks for, for its own overhead.
func TestDialReadBuffer(t *testing.T) {
	def := hostConn(t, nil)
	dflt, err := def.ReadBuffer()
	if err != nil {
		t.Fatal(err)
	}
	c := hostConn(t, &Config{ReadBuffer: 8192})
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

// hostConn dials the host's connector, which lets root open
// NETLINK_CONNECTOR sockets without any module.
func hostConn(t *testing.T, cfg *Config) *Conn {
	t.Helper()
	c, err := Dial(cfg)
	if err != nil {
		t.Skipf("no NETLINK_CONNECTOR socket on this host: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
