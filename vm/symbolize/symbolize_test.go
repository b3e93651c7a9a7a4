package symbolize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSymbolizeSaysHowToGetSymbols(t *testing.T) {
	_, err := Symbolize("trace", "0.0.0-no-such-release", t.TempDir(), "/nonexistent", "/tmp")
	if err == nil || !strings.Contains(err.Error(), "apt-get install linux-image-0.0.0-no-such-release-dbg") {
		t.Fatalf("err = %v, want how to install the symbols", err)
	}
}

// A kernel built from source has its vmlinux in its build tree: no Debian
// package to ask for (seen on 6.1-debug: the runner offered a -dbg package
// that does not exist).
func TestSymbolizeUsesTheBuildTreesVmlinux(t *testing.T) {
	kdir := t.TempDir()
	if err := os.WriteFile(filepath.Join(kdir, "vmlinux"), []byte("ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Symbolize("trace", "6.1.192-cnlab-debug", kdir, "/nonexistent/decode_stacktrace.sh", "/tmp")
	if err == nil || strings.Contains(err.Error(), "apt-get") || !strings.Contains(err.Error(), "decode_stacktrace.sh") {
		t.Fatalf("err = %v, want the build tree's vmlinux taken (and only the missing script named)", err)
	}
}
