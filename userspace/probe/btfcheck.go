package probe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// probedFields are the kernel fields the BPF program reads, by struct; a
// field inside a member is its path ("sk_backlog.rmem_alloc"). A host test
// holds the list to the structs bpf/cnprobe.bpf.c declares.
var probedFields = map[string][]string{
	"cn_msg":            {"id", "seq", "ack", "len"},
	"sock_common":       {"skc_family"},
	"sock":              {"__sk_common", "sk_protocol", "sk_rcvbuf", "sk_drops", "sk_backlog", "sk_backlog.rmem_alloc"},
	"netlink_sock":      {"portid", "state"},
	"sk_buff":           {"len", "data", "cb"},
	"netlink_skb_parms": {"portid", "dst_group"},
	"task_struct":       {"pid"},
}

// CheckBTF compares, field by field, the layout of what the probes read in
// a BTF spec given by a user with the running kernel's. A wrong BTF loads
// without complaint and gives wrong answers, so any difference is an error
// that names the field.
func CheckBTF(given, kernel *btf.Spec) error {
	var diffs []string
	for name, fields := range probedFields {
		var g, k *btf.Struct
		if err := given.TypeByName(name, &g); err != nil {
			diffs = append(diffs, fmt.Sprintf("struct %s: not in the given BTF (%v)", name, err))
			continue
		}
		if err := kernel.TypeByName(name, &k); err != nil {
			diffs = append(diffs, fmt.Sprintf("struct %s: not in the kernel's BTF (%v)", name, err))
			continue
		}
		if g.Size != k.Size {
			diffs = append(diffs, fmt.Sprintf("struct %s is %d bytes in the given BTF, %d in the kernel's", name, g.Size, k.Size))
		}
		for _, f := range fields {
			go1, gok := fieldOffset(g, f)
			ko, kok := fieldOffset(k, f)
			switch {
			case !gok || !kok:
				diffs = append(diffs, fmt.Sprintf("struct %s.%s: in the given BTF %v, in the kernel's %v", name, f, gok, kok))
			case go1 != ko:
				diffs = append(diffs, fmt.Sprintf("struct %s.%s is at byte %d in the given BTF, %d in the kernel's", name, f, go1/8, ko/8))
			}
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrBTFMismatch, strings.Join(diffs, "\n  "))
	}
	return nil
}

// ErrBTFMismatch says a given BTF does not describe the running kernel.
var ErrBTFMismatch = errors.New("the given BTF does not describe the running kernel")

// fieldOffset is where the field at path ("a.b") lies in s, in bits;
// members of anonymous structs and unions are found as the kernel's C
// names them, through them.
func fieldOffset(s btf.Type, path string) (btf.Bits, bool) {
	var off btf.Bits
	for _, name := range strings.Split(path, ".") {
		m, ok := member(s, name)
		if !ok {
			return 0, false
		}
		off += m.Offset
		s = m.Type
	}
	return off, true
}

func member(t btf.Type, name string) (btf.Member, bool) {
	for {
		td, ok := t.(*btf.Typedef)
		if !ok {
			break
		}
		t = td.Type
	}
	var members []btf.Member
	switch c := t.(type) {
	case *btf.Struct:
		members = c.Members
	case *btf.Union:
		members = c.Members
	default:
		return btf.Member{}, false
	}
	for _, m := range members {
		if m.Name == name {
			return m, true
		}
		if m.Name == "" {
			if in, ok := member(m.Type, name); ok {
				in.Offset += m.Offset
				return in, true
			}
		}
	}
	return btf.Member{}, false
}
