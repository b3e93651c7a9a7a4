package probe

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// String counts the sockets a record reached beyond those it lists.
func TestRecordStringMoreSockets(t *testing.T) {
	r := Record{Group: 20, Delivered: 9, Dropped: 1, Receivers: make([]Receiver, 8)}
	if s := r.String(); !strings.HasSuffix(s, " (+2 more sockets)") {
		t.Errorf("%q: want (+2 more sockets) at the end", s)
	}
	r = Record{Group: 20, Delivered: 1, Failed: 2, Receivers: make([]Receiver, 1)}
	if s := r.String(); !strings.HasSuffix(s, " (+2 more sockets)") {
		t.Errorf("%q: want (+2 more sockets) at the end: the failed count too", s)
	}
	r = Record{PortID: 5, Ret: 40, Delivered: 1, Receivers: []Receiver{{PortID: 5, Outcome: Delivered}}}
	if s := r.String(); strings.Contains(s, "more sockets") || !strings.HasSuffix(s, "[port 5: delivered]") {
		t.Errorf("%q: every socket is listed", s)
	}
}

// Lists wants both the port and the outcome.
func TestLists(t *testing.T) {
	r := Record{Receivers: []Receiver{{PortID: 1, Outcome: Delivered}, {PortID: 2, Outcome: QueueFull}}}
	for _, tt := range []struct {
		port uint32
		o    Outcome
		want bool
	}{{1, Delivered, true}, {2, QueueFull, true}, {1, QueueFull, false}, {3, Delivered, false}} {
		if got := r.Lists(tt.port, tt.o); got != tt.want {
			t.Errorf("Lists(%d, %s) = %v", tt.port, tt.o, got)
		}
	}
}

// btfSpec builds a BTF spec holding the probed structs, with field at
// byte offset off in struct sock.
func btfSpec(t *testing.T, off uint32) *btf.Spec {
	t.Helper()
	u32 := &btf.Int{Name: "u32", Size: 4}
	structs := []btf.Type{}
	for name, fields := range probedFields {
		s := &btf.Struct{Name: name, Size: 64}
		for i, f := range fields {
			o := btf.Bits(32 * i)
			if name == "sock" && f == "sk_drops" {
				o = btf.Bits(8 * off)
			}
			s.Members = append(s.Members, btf.Member{Name: f, Type: u32, Offset: o})
		}
		structs = append(structs, s)
	}
	b, err := btf.NewBuilder(structs, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// A field at another offset is named, with both offsets in bytes.
func TestCheckBTFNamesTheField(t *testing.T) {
	if err := CheckBTF(btfSpec(t, 8), btfSpec(t, 8)); err != nil {
		t.Fatalf("the same layout: %v", err)
	}
	err := CheckBTF(btfSpec(t, 8), btfSpec(t, 16))
	if !errors.Is(err, ErrBTFMismatch) {
		t.Fatalf("err = %v, want a mismatch", err)
	}
	if want := "struct sock.sk_drops is at byte 8 in the given BTF, 16 in the kernel's"; !strings.Contains(err.Error(), want) {
		t.Fatalf("%v\nlacks %q", err, want)
	}
	if strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("%v: want exactly one difference", err)
	}
}

func TestMemberOffset(t *testing.T) {
	s := &btf.Struct{Members: []btf.Member{{Name: "a", Offset: 0}, {Name: "b", Offset: 64}}}
	if o, ok := memberOffset(s, "b"); !ok || o != 64 {
		t.Errorf("memberOffset(b) = %d, %v", o, ok)
	}
	if _, ok := memberOffset(s, "c"); ok {
		t.Error("memberOffset(c) found it")
	}
}
