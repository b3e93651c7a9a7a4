package probe

import (
	"bytes"
	"errors"
	"slices"
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
	return btfSpecMoved(t, "sock", "sk_drops", off)
}

// btfSpecMoved builds a BTF spec holding the probed structs, each field
// 4 bytes after the last, but st's field moved to byte offset off; a
// dotted field is a member of its parent's struct.
func btfSpecMoved(t *testing.T, st, field string, off uint32) *btf.Spec {
	t.Helper()
	u32 := &btf.Int{Name: "u32", Size: 4}
	structs := []btf.Type{}
	for name, fields := range probedFields {
		s := &btf.Struct{Name: name, Size: 256}
		inner := map[string]*btf.Struct{}
		for i, f := range fields {
			o := btf.Bits(32 * (i + 1))
			if name == st && f == field {
				o = btf.Bits(8 * off)
			}
			if parent, child, ok := strings.Cut(f, "."); ok {
				in := inner[parent]
				in.Members = append(in.Members, btf.Member{Name: child, Type: u32, Offset: o})
				continue
			}
			var typ btf.Type = u32
			for _, g := range fields {
				if strings.HasPrefix(g, f+".") {
					in := &btf.Struct{Size: 256}
					inner[f], typ = in, in
					break
				}
			}
			s.Members = append(s.Members, btf.Member{Name: f, Type: typ, Offset: o})
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

func TestFieldOffset(t *testing.T) {
	u32 := &btf.Int{Name: "u32", Size: 4}
	backlog := &btf.Struct{Members: []btf.Member{{Name: "rmem_alloc", Type: u32, Offset: 32}}}
	anon := &btf.Struct{Members: []btf.Member{{Name: "skc_family", Type: u32, Offset: 16}}}
	s := &btf.Struct{Members: []btf.Member{{Name: "a", Type: u32, Offset: 0}, {Name: "", Type: anon, Offset: 64},
		{Name: "sk_backlog", Type: &btf.Typedef{Name: "t", Type: backlog}, Offset: 128}}}
	for _, tt := range []struct {
		path string
		want btf.Bits
		ok   bool
	}{{"a", 0, true}, {"skc_family", 80, true}, {"sk_backlog.rmem_alloc", 160, true}, {"sk_backlog.x", 0, false}, {"c", 0, false}} {
		if o, ok := fieldOffset(s, tt.path); o != tt.want || ok != tt.ok {
			t.Errorf("fieldOffset(%s) = %d, %v; want %d, %v", tt.path, o, ok, tt.want, tt.ok)
		}
	}
}

// Every field the program reads is checked: one moved in the given BTF is
// a mismatch that names it (issue 26: sk_protocol, sk_backlog, sk_buff.cb,
// netlink_skb_parms.portid and dst_group were not).
func TestCheckBTFEveryField(t *testing.T) {
	for st, fields := range probedFields {
		for _, f := range fields {
			t.Run(st+"."+f, func(t *testing.T) {
				err := CheckBTF(btfSpecMoved(t, st, f, 200), btfSpecMoved(t, "", "", 0))
				if !errors.Is(err, ErrBTFMismatch) || !strings.Contains(err.Error(), "struct "+st+"."+f+" is at byte 2") {
					t.Fatalf("%s.%s moved: err = %v", st, f, err)
				}
			})
		}
	}
	for _, want := range []string{"sock.sk_protocol", "sock.sk_backlog.rmem_alloc", "sk_buff.cb", "netlink_skb_parms.portid", "netlink_skb_parms.dst_group"} {
		st, f, _ := strings.Cut(want, ".")
		if !slices.Contains(probedFields[st], f) {
			t.Errorf("%s is read by the program and not checked", want)
		}
	}
}
