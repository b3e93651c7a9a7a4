package wire

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
	"unsafe"
)

// TestGeneratedMatchesHeader regenerates zdefs.go from kmod/cnlab_wire.h and
// fails when the committed file differs: the C header is the source of truth.
func TestGeneratedMatchesHeader(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("gcc is needed to read kmod/cnlab_wire.h: %v (install it with make setup)", err)
	}
	// Reading the header here makes go test's cache depend on it; cgo
	// reads it in a child process that the cache does not see.
	if _, err := os.ReadFile("../../kmod/cnlab_wire.h"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "tool", "cgo", "-objdir", dir, "-godefs", "--", "-I../../kmod", "defs.go")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool cgo -godefs: %v\n%s", err, stderr.String())
	}
	gofmt := exec.Command("gofmt")
	gofmt.Stdin = bytes.NewReader(raw)
	want, err := gofmt.Output()
	if err != nil {
		t.Fatalf("gofmt: %v", err)
	}
	got, err := os.ReadFile("zdefs.go")
	if err != nil {
		t.Fatal(err)
	}
	// The generated file records its own command line, which differs only
	// by the -objdir this test adds.
	want = bytes.Replace(want, []byte("-objdir "+dir+" "), nil, 1)
	if !bytes.Equal(got, want) {
		t.Fatalf("zdefs.go is stale against kmod/cnlab_wire.h: run go generate ./userspace/wire\n--- want\n%s", want)
	}
}

func TestSizes(t *testing.T) {
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"cn_msg", unsafe.Sizeof(CnMsg{}), SizeofCnMsg},
		{"cnlab_ctl_req", unsafe.Sizeof(CtlReq{}), SizeofCtlReq},
		{"cnlab_ctl_reply", unsafe.Sizeof(CtlReply{}), SizeofCtlReply},
		{"cnlab_stats", unsafe.Sizeof(Stats{}), SizeofStats},
		{"cnlab_extra_stats", unsafe.Sizeof(ExtraStats{}), SizeofExtra},
		{"cnlab_bcast", unsafe.Sizeof(Bcast{}), SizeofBcast},
		{"cnlab_notify", unsafe.Sizeof(Notify{}), SizeofNotify},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("Go size %d, C size %d", tt.got, tt.want)
			}
		})
	}
	if MaxData != ConnectorMaxMsgSize-SizeofCnMsg {
		t.Fatalf("MaxData = %d, want CONNECTOR_MAX_MSG_SIZE - sizeof(struct cn_msg) = %d", MaxData, ConnectorMaxMsgSize-SizeofCnMsg)
	}
}
