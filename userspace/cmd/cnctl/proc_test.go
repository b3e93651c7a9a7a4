package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
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
	{What: proc.Fork, ParentPID: 1, ParentTGID: 1, PID: 999998, TGID: 999998, Timestamp: 1000 * time.Millisecond},
	{What: proc.Exec, PID: 999998, TGID: 999998, Timestamp: 1100 * time.Millisecond},
	{What: proc.Comm, PID: 999998, TGID: 999998, Comm: "worker", Timestamp: 1200 * time.Millisecond},
	{What: proc.Exit, PID: 999998, TGID: 999998, ExitCode: 3 << 8, ExitSignal: 17, ParentPID: 1, ParentTGID: 1, Timestamp: 1250 * time.Millisecond},
}

// procWorkloadFS is the /proc procWorkload's processes have.
var procWorkloadFS = map[string]string{
	"1/stat":         procStat(1, "init", 0, 0x400100, 1),
	"1/status":       "Name:\tinit\nUid:\t0\t0\t0\t0\n",
	"999998/cmdline": "worker\x00--fast\x00",
	"999998/comm":    "worker\n",
}

func TestProcText(t *testing.T) {
	fakeProcFS(t, procWorkloadFS)
	code, out, errOut := cnctl(t, fakeProcKernel(procWorkload, 2), "proc", "-e", "fork,exec,exit", "-c", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"# fork,exec,exit, filtered in cnctl: this kernel ignores struct proc_input (before 6.6) and sends every event",
		"time           event        pid    ppid info                      lifetime process",
		"      1.000000 fork      999998       1 child                              init",
		"      1.100000 exec      999998       1                                    worker --fast",
		"GAP: cpu 0 missed seq 4-5 (2 events)",
		"      1.250000 exit      999998       1 exit 3                      0.250s worker --fast",
		"--- 3 process events: 1 fork, 1 exec, 1 exit; 2 missed in gaps, 0 overruns, 1 filtered in cnctl ---",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("no line %q in:\n%s", want, out)
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
		dial := func(*connector.Config) (*connector.Conn, error) { return proctest.NewConn(sock), nil }
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

// cnctl proc names what each line is about: a forked child as its parent,
// an exec'd process by its command line, a kernel thread as [comm], and an
// exit with its lifetime, from its fork or, for a process that began
// before cnctl, from /proc/pid/stat's starttime.
func TestProcNamesAndLifetimes(t *testing.T) {
	fakeProcFS(t, map[string]string{
		"2/stat":      procStat(2, "kthreadd", 0, 0x208040, 0),
		"700/stat":    procStat(700, "sshd", 1, 0x400100, 150), // began at 1.5 s
		"701/stat":    procStat(701, "old", 700, 0x400100, 200),
		"800/stat":    procStat(800, "bash", 700, 0x400100, 300),
		"801/cmdline": "/usr/bin/make\x00-j4\x00",
	})
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	events := []proc.Event{
		{What: proc.Fork, ParentPID: 2, ParentTGID: 2, PID: 90, TGID: 90, Timestamp: ms(5000)},
		{What: proc.Comm, PID: 90, TGID: 90, Comm: "kworker/u8:3", Timestamp: ms(5001)},
		{What: proc.Exit, PID: 90, TGID: 90, ParentPID: 2, ParentTGID: 2, Timestamp: ms(7001)},
		{What: proc.Fork, ParentPID: 800, ParentTGID: 800, PID: 801, TGID: 801, Timestamp: ms(6000)},
		{What: proc.Exec, PID: 801, TGID: 801, Timestamp: ms(6001)},
		{What: proc.Fork, ParentPID: 800, ParentTGID: 800, PID: 802, TGID: 801, Timestamp: ms(6002)},
		{What: proc.Exit, PID: 802, TGID: 801, ExitSignal: -1, ParentPID: 800, ParentTGID: 800, Timestamp: ms(6102)},
		{What: proc.Exit, PID: 801, TGID: 801, ExitCode: uint32(syscall.SIGSEGV) | 0x80, ParentPID: 800, ParentTGID: 800, Timestamp: ms(8001)},
		{What: proc.Exit, PID: 701, TGID: 701, ParentPID: 700, ParentTGID: 700, Timestamp: ms(4500)},
		{What: proc.Exit, PID: 703, TGID: 703, ParentPID: 700, ParentTGID: 700, Timestamp: ms(4600)},
		{What: proc.Exit, PID: 704, TGID: 704, ExitCode: 40, ParentPID: 700, ParentTGID: 700, Timestamp: ms(4700)},
	}
	code, out, errOut := cnctl(t, fakeProcKernel(events, 0), "proc", "-c", strconv.Itoa(len(events)))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"      5.000000 fork          90       2 child                            [kthreadd]",
		"      5.001000 comm          90       2 comm kworker/u8:3                [kworker/u8:3]",
		"      7.001000 exit          90       2 exit 0                    2.001s [kworker/u8:3]",
		"      6.000000 fork         801     800 child                            bash",
		"      6.001000 exec         801     800                                  /usr/bin/make -j4",
		"      6.002000 clone        801     800 thread 802                       /usr/bin/make -j4",
		"      6.102000 exit         801     800 exit 0 (thread 802)       0.100s /usr/bin/make -j4",
		"      8.001000 exit         801     800 killed by SIGSEGV (core)  2.001s /usr/bin/make -j4",
		"      4.500000 exit         701     700 exit 0                    2.500s old",
		"      4.600000 exit         703     700 exit 0                           <unknown>",
		"      4.700000 exit         704     700 killed by signal 40              <unknown>",
	} {
		if !hasLine(out, want) {
			t.Errorf("no line %q in:\n%s", want, out)
		}
	}
}

// -S adds a table of each program's events (however its command lines
// differ): forks under the parent, an exec under what it ran; -q prints only the table and the summary; -json
// gives a "stats" object per process.
func TestProcStatsTable(t *testing.T) {
	fakeProcFS(t, map[string]string{
		"400/stat":    procStat(400, "make", 1, 0x400100, 10),
		"500/cmdline": "/usr/bin/cc\x00-c\x00a.c\x00",
		"501/cmdline": "cc\x00-c\x00b.c\x00",
	})
	events := []proc.Event{
		{What: proc.Fork, ParentPID: 400, ParentTGID: 400, PID: 500, TGID: 500},
		{What: proc.Fork, ParentPID: 400, ParentTGID: 400, PID: 501, TGID: 501},
		{What: proc.Exec, PID: 500, TGID: 500},
		{What: proc.Exec, PID: 501, TGID: 501},
		{What: proc.Fork, ParentPID: 400, ParentTGID: 400, PID: 502, TGID: 500},
		{What: proc.Exit, PID: 500, TGID: 500, ParentPID: 400, ParentTGID: 400},
		{What: proc.Exit, PID: 501, TGID: 501, ParentPID: 400, ParentTGID: 400},
	}
	table := []string{
		"   Fork   Clone    Exec    Exit    Core    Comm  Ptrace     UID     GID     SID    Total Process",
		"      0       1       2       2       0       0       0       0       0       0        5 cc",
		"      2       0       0       0       0       0       0       0       0       0        2 make",
		"      2       1       2       2       0       0       0       0       0       0        7 (all)",
	}
	tests := []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		{"-S", []string{"-S"}, append([]string{"fork         500     400 child"}, table...), nil},
		{"-q", []string{"-q"}, append([]string{"--- 7 process events"}, table...), []string{"fork ", "time "}},
		{"-q -json", []string{"-q", "-json"}, []string{
			`{"type":"stats","process":"cc","by_type":{"clone":1,"exec":2,"exit":2},"total":5}`,
			`{"type":"stats","process":"make","by_type":{"fork":2},"total":2}`,
			`"type":"summary"`,
		}, []string{`"type":"event"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"proc", "-c", strconv.Itoa(len(events))}, tt.args...)
			code, out, errOut := cnctl(t, fakeProcKernel(events, 0), args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("%q in:\n%s", w, out)
				}
			}
		})
	}
}

// -u shows each process's user: learned from /proc/pid/status, inherited
// at a fork, changed by a uid event.
func TestProcUsers(t *testing.T) {
	fakeProcFS(t, map[string]string{
		"600/stat":   procStat(600, "sshd", 1, 0x400100, 10),
		"600/status": "Name:\tsshd\nUid:\t0\t0\t0\t0\n",
	})
	old := lookupUser
	lookupUser = func(uid int64) string { return map[int64]string{0: "root", 1000: "alice"}[uid] }
	t.Cleanup(func() { lookupUser = old })
	events := []proc.Event{
		{What: proc.Fork, ParentPID: 600, ParentTGID: 600, PID: 601, TGID: 601},
		{What: proc.UID, PID: 601, TGID: 601, Real: 1000, Effective: 1000},
		{What: proc.Exit, PID: 601, TGID: 601, ParentPID: 600, ParentTGID: 600},
	}
	code, out, errOut := cnctl(t, fakeProcKernel(events, 0), "proc", "-u", "-c", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"time           event        pid    ppid user     info                      lifetime process",
		"fork         601     600 root     child ",
		"uid          601     600 alice    real alice effective alice",
		"exit         601     600 alice    exit 0 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	code, out, _ = cnctl(t, fakeProcKernel(events, 0), "proc", "-u", "-c", "3", "-json")
	if code != 0 || !strings.Contains(out, `"uid":1000,"user":"alice"`) {
		t.Errorf("exit %d, no uid and user in:\n%s", code, out)
	}
}

func TestParseProcEvents(t *testing.T) {
	tests := []struct {
		in          string
		what        proc.What
		threadsOnly bool
		err         bool
	}{
		{"all", proc.All, false, false},
		{"fork,exec,exit", proc.Fork | proc.Exec | proc.Exit, false, false},
		{"core,ptrce", proc.Coredump | proc.Ptrace, false, false},
		{"clone", proc.Fork, true, false},
		{"clone,fork", proc.Fork, false, false},
		{"Clone, EXIT", proc.Fork | proc.Exit, true, false},
		{"clone,all", proc.All, false, false},
		{"cores", 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseProcEvents(tt.in)
			if (err != nil) != tt.err || got.what != tt.what || got.threadsOnly != tt.threadsOnly {
				t.Fatalf("parseProcEvents(%q) = %+v, %v", tt.in, got, err)
			}
		})
	}
}

// -e clone keeps the forks that make threads, as forkstat's clone does,
// and counts the others filtered in cnctl.
func TestProcCloneOnly(t *testing.T) {
	fakeProcFS(t, nil)
	events := []proc.Event{
		{What: proc.Fork, ParentPID: 1, ParentTGID: 1, PID: 300, TGID: 300},
		{What: proc.Fork, ParentPID: 1, ParentTGID: 1, PID: 301, TGID: 300},
	}
	code, out, errOut := cnctl(t, fakeProcKernel(events, 0), "proc", "-e", "clone", "-c", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"# forks of threads only (clone)", "clone        300       1 thread 301", "--- 1 process events: 1 fork; 0 missed in gaps, 0 overruns, 1 filtered in cnctl ---"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "child") {
		t.Errorf("a process's fork shown:\n%s", out)
	}
	code, out, errOut = cnctl(t, fakeProcKernel(events[:1], 0), "proc", "-e", "clone", "-json", "-timeout", "0.2")
	if code != 0 || strings.Contains(out, `"fork":`) || !strings.Contains(out, `"filtered_in_client":1`) {
		t.Errorf("exit %d, %s; want the process's fork counted filtered, not a fork:\n%s", code, errOut, out)
	}
}

// hasLine reports whether out has a line with the fields of want, however
// they are spaced.
func hasLine(out, want string) bool {
	w := strings.Join(strings.Fields(want), " ")
	for _, l := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == w {
			return true
		}
	}
	return false
}

// cnctl proc -h lists every flag, forkstat's included.
func TestProcHelp(t *testing.T) {
	code, out, _ := cnctl(t, nil, "proc", "-h")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"-e", "-S", "-q", "-u", "-c", "-timeout", "-rcvbuf", "-force", "-json"} {
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(f) + `\b`).MatchString(out) {
			t.Errorf("cnctl proc -h does not list %s:\n%s", f, out)
		}
	}
	if !strings.Contains(out, "forkstat's core and ptrce") {
		t.Errorf("cnctl proc -h does not name forkstat's event names:\n%s", out)
	}
}

// FuzzParseStat: no /proc/pid/stat, however cut or garbled, panics the
// parser.
func FuzzParseStat(f *testing.F) {
	f.Add(procStat(40, "kworker/0:1", 2, 0x4208060, 3))
	f.Add(procStat(301, "a) (b", 300, 0, 7))
	f.Add("1 (")
	f.Add(") (")
	f.Fuzz(func(t *testing.T, s string) {
		var pi procInfo
		parseStat(&pi, s)
		_ = statusUID(s)
	})
}
