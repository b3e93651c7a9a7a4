package probe

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The committed object and its Go are what the source builds to: the
// go:generate line of gen.go is run into a temporary directory with the
// compiler make generate uses, and the results compared byte for byte.
// Skipped without the compiler, unless CNLAB_REQUIRE_CLANG is set (CI).
func TestGeneratedIsCurrent(t *testing.T) {
	cc, strip := os.Getenv("BPF2GO_CC"), os.Getenv("BPF2GO_STRIP")
	if cc == "" {
		cc, strip = "clang-14", "llvm-strip-14"
	}
	if _, err := exec.LookPath(cc); err != nil {
		if os.Getenv("CNLAB_REQUIRE_CLANG") != "" {
			t.Fatalf("%s: %v (make setup-bpf installs it)", cc, err)
		}
		t.Skipf("%s not installed (make setup-bpf): the committed object is not checked", cc)
	}
	src, err := os.ReadFile("gen.go")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(l, "//go:generate go tool bpf2go "); ok {
			line = rest
		}
	}
	if line == "" {
		t.Fatal("gen.go has no go:generate line running bpf2go")
	}
	out := t.TempDir()
	// The flags as the shell that go generate does not use would split
	// them: only -cflags is quoted.
	var args []string
	for i, part := range strings.Split(line, `"`) {
		if i%2 == 1 {
			args = append(args, part)
			continue
		}
		args = append(args, strings.Fields(part)...)
	}
	cmd := exec.Command("go", append([]string{"tool", "bpf2go", "-output-dir", out}, args...)...)
	cmd.Env = append(os.Environ(), "BPF2GO_CC="+cc, "BPF2GO_STRIP="+strip, "GOPACKAGE=probe", "GOFILE=gen.go")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, b)
	}
	for _, f := range []string{"cnprobe_bpfel.go", "cnprobe_bpfel.o"} {
		want, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what bpf/cnprobe.bpf.c builds to: run make generate and commit it", f)
		}
	}
}
