package probe

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// probedFields are the kernel fields the BPF program reads, by struct.
var probedFields = map[string][]string{
	"cn_msg":       {"seq", "ack", "len"},
	"sock":         {"sk_rcvbuf", "sk_drops"},
	"netlink_sock": {"portid", "state"},
	"sk_buff":      {"len", "data"},
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
			go1, gok := memberOffset(g, f)
			ko, kok := memberOffset(k, f)
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

func memberOffset(s *btf.Struct, name string) (btf.Bits, bool) {
	for _, m := range s.Members {
		if m.Name == name {
			return m.Offset, true
		}
	}
	return 0, false
}
