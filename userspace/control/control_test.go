package control

import (
	"testing"

	"github.com/cnlab/cnlab/userspace/wire"
)

func TestEncodeMatchesWire(t *testing.T) {
	tests := []struct {
		name string
		v    any
		size int
	}{
		{"burst", wire.Burst{Group: 1, Portid: 2, Count: 3, Size: 4}, 16},
		{"timer", wire.Timer{Group: 1, Period: 100}, 8},
		{"id", wire.IDArg{Idx: 14, Val: 0x999}, 8},
		{"echo mode", wire.EchoMode{Mode: 2, Count: 1}, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b := encode(tt.v); len(b) != tt.size {
				t.Fatalf("encoded %d bytes, want %d", len(b), tt.size)
			}
		})
	}
	b := encode(wire.Burst{Group: 7, Count: 9})
	if b[0] != 7 || b[8] != 9 {
		t.Fatalf("field order: %x", b)
	}
}

func TestParseEchoMode(t *testing.T) {
	for name, want := range echoModeNames {
		if got, err := ParseEchoMode(name); err != nil || got != want {
			t.Errorf("ParseEchoMode(%q) = %v, %v", name, got, err)
		}
	}
	if _, err := ParseEchoMode("loud"); err == nil {
		t.Error("ParseEchoMode(loud): no error")
	}
}

func TestParseNotify(t *testing.T) {
	n, err := ParseNotify(encode(wire.Notify{Idx: 14, Val: 0x999, On: 1}))
	if err != nil || n.Idx != 14 || n.Val != 0x999 || n.On != 1 {
		t.Fatalf("ParseNotify = %+v, %v", n, err)
	}
	if _, err := ParseNotify([]byte{1, 2}); err == nil {
		t.Fatal("ParseNotify of 2 bytes: no error")
	}
}
