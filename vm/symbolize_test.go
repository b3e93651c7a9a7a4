package vm

import (
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
	_, err := Symbolize("trace", "0.0.0-no-such-release", "/nonexistent", "/tmp")
	if err == nil || !strings.Contains(err.Error(), "apt-get install linux-image-0.0.0-no-such-release-dbg") {
		t.Fatalf("err = %v, want how to install the symbols", err)
	}
}
