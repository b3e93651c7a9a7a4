package main

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/connector/cntest"
	"github.com/cnlab/cnlab/userspace/proc"
)

// fakeProcKernel answers subscriptions as 6.1's cn_proc does (the 4-byte op
// only; a struct proc_input is ignored) and then sends events, each on CPU
// 0 with the next seq; skip leaves a gap before the last one.
func fakeProcKernel(events []proc.Event, skip uint32) *cntest.Kernel {
	var k *cntest.Kernel
	seq := uint32(0)
	send := func(e proc.Event, ack uint32) {
		data, _ := e.MarshalBinary()
		k.Multicast(proc.Group, connector.Message{ID: proc.ID, Seq: seq, Ack: ack, Data: data})
		seq++
	}
	k = cntest.New(func(_ uint32, m connector.Message) ([]connector.Message, error) {
		if m.ID != proc.ID || len(m.Data) != proc.SizeofOp || proc.Op(binary.NativeEndian.Uint32(m.Data)) != proc.OpListen {
			return nil, nil
		}
		send(proc.Event{What: proc.None}, m.Ack+1)
		for i, e := range events {
			if i == len(events)-1 {
				seq += skip
			}
			send(e, 0)
		}
		return nil, nil
	})
	return k
}

var procWorkload = []proc.Event{
	{What: proc.Fork, ParentPID: 1, ParentTGID: 1, PID: 999998, TGID: 999998},
	{What: proc.Exec, PID: 999998, TGID: 999998},
	{What: proc.Comm, PID: 999998, TGID: 999998, Comm: "worker"},
	{What: proc.Exit, PID: 999998, TGID: 999998, ExitCode: 3 << 8, ExitSignal: 17, ParentPID: 1, ParentTGID: 1},
}

func TestProcText(t *testing.T) {
	code, out, errOut := cnctl(t, fakeProcKernel(procWorkload, 2), "proc", "-e", "fork,exec,exit", "-c", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"# fork,exec,exit, filtered in cnctl: this kernel ignores struct proc_input (before 6.6)",
		"fork      999998       1 child 999998",
		"exec      999998       - (gone: no /proc/999998/cmdline)",
		"GAP: cpu 0 missed seq 4-5 (2 events)",
		"exit      999998       1 exit 3",
		"--- 3 process events: 1 fork, 1 exec, 1 exit; 2 missed in gaps, 0 overruns, 1 filtered in cnctl ---",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

func TestProcJSON(t *testing.T) {
	code, out, errOut := cnctl(t, fakeProcKernel(procWorkload, 0), "proc", "-json", "-c", "4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := jsonLines(t, out)
	var types []string
	for _, l := range lines {
		types = append(types, l["type"].(string))
	}
	if got := strings.Join(types, " "); got != "subscribed event event event event summary" {
		t.Fatalf("lines %q:\n%s", got, out)
	}
	if lines[0]["filter"] != "none" || lines[3]["comm"] != "worker" || lines[4]["exit_code"] != float64(3) || lines[4]["exit_signal"] != float64(17) {
		t.Fatalf("fields:\n%s", out)
	}
}

func TestProcBadFilter(t *testing.T) {
	code, _, errOut := cnctl(t, nil, "proc", "-e", "forks")
	if code != 2 || !strings.Contains(errOut, `unknown process event "forks"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
