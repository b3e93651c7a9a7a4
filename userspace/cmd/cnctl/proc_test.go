package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/connector/cntest"
	"github.com/cnlab/cnlab/userspace/proc"
	"github.com/cnlab/cnlab/userspace/proc/proctest"
)

// fakeProcKernel answers subscriptions as 6.1's cn_proc does (the 4-byte op
// only; a struct proc_input is ignored) and then sends events, each on CPU
// 0 with the next seq; skip leaves a gap before the last one.
func fakeProcKernel(events []proc.Event, skip uint32) *cntest.Kernel {
	return procFake{events: events, skip: skip}.kernel()
}

// procFake is a fake cn_proc: 6.1's, or with input 6.6's, which takes a
// struct proc_input and filters in the kernel (every event it sends then
// passes the filter; the seqs of those it keeps back are used all the
// same). Once a socket has subscribed it sends events, each on CPU 0 with
// the next seq, skip seqs left out before the last one.
type procFake struct {
	events []proc.Event
	skip   uint32
	input  bool
}

func (f procFake) kernel() *cntest.Kernel {
	var k *cntest.Kernel
	seq := uint32(0)
	send := func(e proc.Event, ack uint32) {
		data, _ := e.MarshalBinary()
		k.Multicast(proc.Group, connector.Message{ID: proc.ID, Seq: seq, Ack: ack, Data: data})
		seq++
	}
	probed := map[uint32]bool{} // sockets that sent {LISTEN, ALL} as a proc_input
	k = cntest.New(func(from uint32, m connector.Message) ([]connector.Message, error) {
		if m.ID != proc.ID || len(m.Data) < proc.SizeofOp || proc.Op(binary.NativeEndian.Uint32(m.Data)) != proc.OpListen {
			return nil, nil
		}
		filter := proc.All
		switch {
		case len(m.Data) == proc.SizeofOp:
			send(proc.Event{What: proc.None}, m.Ack+1)
			if probed[from] {
				return nil, nil // the LISTEN behind the proc_input: a filter follows
			}
		case len(m.Data) == proc.SizeofInput && f.input:
			filter = proc.What(binary.NativeEndian.Uint32(m.Data[4:]))
			if filter == proc.All {
				send(proc.Event{What: proc.None}, m.Ack+1)
				probed[from] = true
				return nil, nil
			}
			seq++ // the ack, which the filter keeps from this socket
		default:
			return nil, nil
		}
		for i, e := range f.events {
			if i == len(f.events)-1 {
				seq += f.skip
			}
			if !proc.Wanted(filter, &e) {
				seq++
				continue
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
	fakeProcFS(t, nil)
	code, out, errOut := cnctl(t, fakeProcKernel(procWorkload, 2), "proc", "-e", "fork,exec,exit", "-c", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"# fork,exec,exit, filtered in cnctl: this kernel ignores struct proc_input (before 6.6)",
		"fork      999998       1 child 999998",
		"exec      999998       1 (gone: no /proc/999998/cmdline)",
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
	fakeProcFS(t, nil)
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

// Where the kernel filters, the seqs of the events it keeps back are used
// all the same, so gaps are not tracked: the summary says so, and does not
// count gaps it never looked for.
func TestProcKernelFilterTracksNoGaps(t *testing.T) {
	fakeProcFS(t, nil)
	k := procFake{events: procWorkload, input: true}
	code, out, errOut := cnctl(t, k.kernel(), "proc", "-e", "exit", "-c", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "# exit, filtered in the kernel") || !strings.Contains(out, "exit 3") {
		t.Fatalf("not the kernel-filtered exit:\n%s", out)
	}
	if strings.Contains(out, "missed in gaps") || !strings.Contains(out, "gaps not tracked") {
		t.Errorf("the summary counts gaps it did not track:\n%s", out)
	}
	code, out, errOut = cnctl(t, k.kernel(), "proc", "-e", "exit", "-c", "1", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := jsonLines(t, out)
	sum := lines[len(lines)-1]
	if _, ok := sum["missed_in_gaps"]; ok || sum["gaps_tracked"] != false {
		t.Errorf("the JSON summary counts gaps it did not track: %v", sum)
	}
}

// A forged event (from a user-space port, not the kernel's 0) is reported
// and counted, and cnctl goes on: one message from a privileged socket on
// group 1 must not end every listener's run.
func TestProcForged(t *testing.T) {
	fakeProcFS(t, nil)
	seq := uint32(0)
	push := func(s *proctest.Socket, port uint32, e proc.Event, ack uint32) {
		data, _ := e.MarshalBinary()
		s.Push(port, proc.Group, connector.Message{ID: proc.ID, Seq: seq, Ack: ack, Data: data})
		seq++
	}
	sock := proctest.NewSocket(func(s *proctest.Socket, m connector.Message) error {
		if len(m.Data) != proc.SizeofOp {
			return nil // 6.1: a proc_input is ignored
		}
		push(s, 0, proc.Event{What: proc.None}, m.Ack+1)
		push(s, 0, procWorkload[0], 0)
		push(s, 4242, proc.Event{What: proc.Exit, PID: 1, TGID: 1}, 0)
		push(s, 0, procWorkload[3], 0)
		return nil
	})
	for _, asJSON := range []bool{false, true} {
		args := []string{"proc", "-c", "2"}
		if asJSON {
			args = append(args, "-json")
		}
		var out, errOut bytes.Buffer
		dial := func(*connector.Config) (*connector.Conn, error) { return connector.NewConn(sock), nil }
		code := run(&env{stdout: &out, stderr: &errOut, dial: dial, ctx: t.Context()}, args)
		if code != 0 {
			t.Fatalf("cnctl %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		want := []string{"FORGED: forged process event: not from the kernel: from port 4242", "1 forged"}
		if asJSON {
			want = []string{`"type":"forged"`, `"port":4242`, `"forged":1`}
		}
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("cnctl %s: no %q in:\n%s", strings.Join(args, " "), w, out.String())
			}
		}
		sock = proctest.NewSocket(sock.OnSend)
	}
}

// fakeProcFS has cnctl read files from files ("pid/name": content) instead
// of /proc, and counts the reads.
func fakeProcFS(t *testing.T, files map[string]string) *int {
	t.Helper()
	reads := new(int)
	old := readProc
	readProc = func(pid int32, name string) ([]byte, error) {
		*reads++
		if c, ok := files[strconv.Itoa(int(pid))+"/"+name]; ok {
			return []byte(c), nil
		}
		return nil, os.ErrNotExist
	}
	t.Cleanup(func() { readProc = old })
	return reads
}

// procStat is a /proc/pid/stat line: comm, state, ppid, ..., flags
// (field 9), ..., starttime (field 22, in clock ticks since boot).
func procStat(pid int, comm string, ppid int, flags uint32, start uint64) string {
	return fmt.Sprintf("%d (%s) S %d %d %d 0 -1 %d 0 0 0 0 0 0 0 0 20 0 1 0 %d 1000 100\n", pid, comm, ppid, pid, pid, flags, start)
}

// A fork storm costs cnctl a /proc read per process it did not see being
// born, and one per exec (its command line), not one or two per event: the
// reads are on the one receive loop, and a slow reader overruns.
func TestProcForkStormReads(t *testing.T) {
	const parent, children = 4000, 50
	files := map[string]string{
		"4000/comm":   "make\n",
		"4000/stat":   procStat(parent, "make", 1, 0, 100),
		"4000/status": "Name:\tmake\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\n",
	}
	var events []proc.Event
	for i := range children {
		pid := int32(5000 + i)
		files[fmt.Sprintf("%d/cmdline", pid)] = "cc\x00-c\x00f.c\x00"
		events = append(events,
			proc.Event{What: proc.Fork, ParentPID: parent, ParentTGID: parent, PID: pid, TGID: pid, Timestamp: time.Duration(i) * time.Millisecond},
			proc.Event{What: proc.Exec, PID: pid, TGID: pid, Timestamp: time.Duration(i)*time.Millisecond + 100*time.Microsecond},
			proc.Event{What: proc.Exit, PID: pid, TGID: pid, ParentPID: parent, ParentTGID: parent, Timestamp: time.Duration(i)*time.Millisecond + 500*time.Microsecond})
	}
	reads := fakeProcFS(t, files)
	code, out, errOut := cnctl(t, fakeProcKernel(events, 0), "proc", "-c", strconv.Itoa(len(events)))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if *reads > children+1 {
		t.Fatalf("%d reads of /proc for %d events of %d children of one parent, want at most %d (the parent once, each exec's command line)", *reads, len(events), children, children+1)
	}
	if !strings.Contains(out, "cc -c f.c") {
		t.Fatalf("no exec'd command line in:\n%s", out)
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		stat string
		want procInfo
	}{
		{"a process", procStat(300, "make", 1, 0x400100, 250), procInfo{comm: "make", ppid: 1, start: 2500 * time.Millisecond, known: true}},
		{"a kernel thread", procStat(40, "kworker/0:1", 2, 0x4208060, 3), procInfo{comm: "kworker/0:1", ppid: 2, kthread: true, start: 30 * time.Millisecond, known: true}},
		{"a comm with ') ' in it", procStat(301, "a) (b", 300, 0, 7), procInfo{comm: "a) (b", ppid: 300, start: 70 * time.Millisecond, known: true}},
		{"cut short", "302 (sh) S", procInfo{comm: "sh"}},
		{"garbage", "no parentheses", procInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pi procInfo
			parseStat(&pi, tt.stat)
			if pi != tt.want {
				t.Fatalf("parseStat(%q) = %+v, want %+v", tt.stat, pi, tt.want)
			}
		})
	}
}
