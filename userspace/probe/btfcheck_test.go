package probe

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// The BTF-only vmlinux files of Debian's 6.12 headers, generic and
// PREEMPT_RT, installed by make setup-all: two kernels whose struct sock
// differ.
const (
	btf612   = "/usr/src/linux-headers-6.12.95+deb12-amd64/vmlinux"
	btf612rt = "/usr/src/linux-headers-6.12.95+deb12-rt-amd64/vmlinux"
)

func loadBTF(t *testing.T, path string) *btf.Spec {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%v (make setup-all installs the 6.12 headers)", err)
	}
	s, err := btf.LoadSpec(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return s
}

func TestCheckBTF(t *testing.T) {
	generic, rt := loadBTF(t, btf612), loadBTF(t, btf612rt)
	if err := CheckBTF(generic, generic); err != nil {
		t.Fatalf("a BTF against itself: %v", err)
	}
	err := CheckBTF(rt, generic)
	if !errors.Is(err, ErrBTFMismatch) {
		t.Fatalf("the RT kernel's BTF against the generic one's: err = %v, want a mismatch", err)
	}
	if !strings.Contains(err.Error(), "struct sock") {
		t.Fatalf("the mismatch does not name struct sock:\n%v", err)
	}
}
