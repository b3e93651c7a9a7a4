package vm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTroubleTrace(t *testing.T) {
	log := strings.Join([]string{
		"[    1.0] booting",
		"[    2.0] WARNING: CPU: 0 PID: 9 at kmod/cnlab_echo.c:20 cnlab_echo_cb+0x1/0x2 [cnlab]",
		"[    2.0] Call Trace:",
		"[    2.0]  cnlab_echo_cb+0x1/0x2 [cnlab]",
		"[    2.0] ---[ end trace 0000000000000000 ]---",
		"[    3.0] after",
	}, "\n")
	got := TroubleTrace(log)
	if !strings.HasPrefix(got, "[    2.0] WARNING") || !strings.HasSuffix(got, "]---") || strings.Contains(got, "after") {
		t.Fatalf("TroubleTrace = %q", got)
	}
	if TroubleTrace("[ 1.0] all fine") != "" {
		t.Fatal("a clean log has a trace")
	}
}

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

func TestTroubleReport(t *testing.T) {
	log := "[ 1.0] boot\r\n[ 3.0] ------------[ cut here ]------------\r\n[ 3.0] cnlab_fault: a warning, on purpose\r\n[ 3.0] WARNING: CPU: 0 PID: 85 at x.c:48 f+0x2c/0x1000\r\n[ 3.1] Call Trace:\r\n[ 3.2] later\r\n"
	got := TroubleReport(log, 3, 2)
	want := "[ 1.0] boot\n[ 3.0] ------------[ cut here ]------------\n[ 3.0] cnlab_fault: a warning, on purpose\n[ 3.0] WARNING: CPU: 0 PID: 85 at x.c:48 f+0x2c/0x1000\n[ 3.1] Call Trace:"
	if got != want {
		t.Errorf("TroubleReport =\n%s\nwant\n%s", got, want)
	}
	if TroubleReport("[ 1.0] boot\n", 3, 2) != "" {
		t.Error("a report where the console shows no trouble")
	}
}
