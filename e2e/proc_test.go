package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/probe"
	"github.com/cnlab/cnlab/userspace/proc"
)

// The process events connector (drivers/connector/cn_proc.c), driven by
// what the specs do in the guest: the guest has no shell, so the workloads
// are children forked from the test process that run only raw system calls
// (rawFork), and the test binary itself run again with procHelperEnv naming
// a helper (procHelper).

// procHelperEnv names the helper a re-executed test binary runs instead
// of the suites.
const procHelperEnv = "CNLAB_PROC_HELPER"

func init() {
	if h := os.Getenv(procHelperEnv); h != "" {
		os.Exit(procHelper(h))
	}
}

// kernelAtLeast reports whether the running kernel is major.minor or later.
func kernelAtLeast(major, minor int) bool {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return false
	}
	rel := unix.ByteSliceToString(uts.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return ma > major || ma == major && mi >= minor
}

// What a raw child does (rawFork).
const (
	childExit     = iota // exit_group(a1)
	childSetIDs          // setgid(a1), setuid(a2), exit 0
	childSetsid          // setsid(), exit 0
	childComm            // prctl(PR_SET_NAME, commName), exit 0
	childPause           // SIGTERM to its default action, prctl(PR_SET_NAME, readyName), pause for ever
	childCoredump        // SIGQUIT to its default action, kill(getpid(), SIGQUIT)
)

var (
	commName  = [16]byte{'c', 'n', 'l', 'a', 'b', '-', 'c', 'o', 'm', 'm'}
	readyName = [16]byte{'c', 'n', 'l', 'a', 'b', '-', 'r', 'e', 'a', 'd', 'y'}
	// dflAction is a struct sigaction for rt_sigaction: SIG_DFL, no
	// flags, no restorer, an empty mask.
	dflAction [4]uint64
)

// rawFork forks the test process; the child does what kind says with raw
// system calls only (nothing of the Go runtime works in a child of a
// multithreaded process, as syscall.forkAndExecInChild knows) and exits.
// It returns the child's pid, or a negative errno.
//
//go:nosplit
//go:norace
func rawFork(kind int, a1, a2 uintptr) int {
	r, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	if errno != 0 {
		return -int(errno)
	}
	if r != 0 {
		return int(r)
	}
	code := uintptr(0)
	switch kind {
	case childExit:
		code = a1
	case childSetIDs:
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETGID, a1, 0, 0); e != 0 {
			code = 100
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETUID, a2, 0, 0); e != 0 {
			code = 101
		}
	case childSetsid:
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETSID, 0, 0, 0); e != 0 {
			code = 102
		}
	case childComm:
		syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_NAME, uintptr(unsafe.Pointer(&commName[0])), 0)
	case childPause:
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGTERM), uintptr(unsafe.Pointer(&dflAction[0])), 0, 8, 0, 0)
		syscall.RawSyscall(syscall.SYS_PRCTL, unix.PR_SET_NAME, uintptr(unsafe.Pointer(&readyName[0])), 0)
		for {
			syscall.RawSyscall(syscall.SYS_PAUSE, 0, 0, 0)
		}
	case childCoredump:
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGQUIT), uintptr(unsafe.Pointer(&dflAction[0])), 0, 8, 0, 0)
		pid, _, _ := syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
		syscall.RawSyscall(syscall.SYS_KILL, pid, uintptr(syscall.SIGQUIT), 0)
		code = 103
	}
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, code, 0, 0)
	return 0
}

// forkChild runs rawFork on a thread locked for the spec, and returns the
// child's pid and the thread's id: the parent_pid of the child's events
// (the forking thread), whose parent_tgid is the test process.
func forkChild(kind int, a1, a2 uintptr) (pid, tid int) {
	GinkgoHelper()
	pid = rawFork(kind, a1, a2)
	Expect(pid).To(BeNumerically(">", 0), "fork: %v", syscall.Errno(-pid))
	return pid, unix.Gettid()
}

// reap waits for the child and returns its wait status. A spec that checks
// the parent in an exit event reaps only once the event has arrived:
// do_exit() sends it after exit_notify() (kernel/exit.c), so a parent that
// reaps first leaves the event without a parent (cn_proc.c fills it only if
// pid_alive()): seen on 6.12-rt.
func reap(pid int) unix.WaitStatus {
	GinkgoHelper()
	var ws unix.WaitStatus
	_, err := unix.Wait4(pid, &ws, 0, nil)
	Expect(err).NotTo(HaveOccurred(), "wait for %d", pid)
	return ws
}

// lockThread keeps the spec's goroutine on one OS thread: ptrace and the
// parent pid of a child's events are per thread. Ginkgo runs each node in a
// goroutine of its own, so each It locks; the thread is never unlocked,
// and ends with the goroutine, after the spec reaped its children.
func lockThread() { runtime.LockOSThread() }

// procListen subscribes a socket of the spec to events; the subscription
// ends with the spec.
func procListen(events proc.What, rcvbuf int) *proc.Conn {
	GinkgoHelper()
	c := proc.New(dial(&connector.Config{Groups: []uint32{proc.Group}, ReadBuffer: rcvbuf}))
	Expect(c.Subscribe(timeout(replyTimeout), events)).To(Succeed(), "subscribe to process events")
	DeferCleanup(c.Close) // before the socket's own Close: cleanups run last first
	return c
}

// procLog is what a listener received.
type procLog struct {
	events   []proc.Event
	gaps     []*proc.GapError
	overruns int
}

// receiveEvents reads c until done says the log is complete and then
// nothing arrives for quiet; it fails after 20 s.
func receiveEvents(c *proc.Conn, done func(l *procLog) bool) *procLog {
	GinkgoHelper()
	l := &procLog{}
	deadline := time.Now().Add(20 * time.Second)
	complete := done == nil
	for {
		if !complete && done(l) {
			complete = true
		}
		wait := quiet
		if !complete {
			wait = time.Until(deadline)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		e, err := c.Receive(ctx)
		cancel()
		var g *proc.GapError
		switch {
		case err == nil:
			l.events = append(l.events, e)
		case errors.As(err, &g):
			l.gaps = append(l.gaps, g)
		case errors.Is(err, proc.ErrOverrun):
			l.overruns++
		case errors.Is(err, context.DeadlineExceeded):
			if !complete {
				Fail(fmt.Sprintf("the expected events did not arrive within 20s; received:\n%s", l))
			}
			return l
		default:
			Fail("receive process events: " + err.Error())
		}
	}
}

func (l *procLog) String() string {
	var b strings.Builder
	for _, e := range l.events {
		fmt.Fprintf(&b, "  cpu %d seq %d %s\n", e.CPU, e.Seq, e.String())
	}
	for _, g := range l.gaps {
		fmt.Fprintf(&b, "  GAP %s\n", g)
	}
	return b.String()
}

// of returns the events about thread group tgid, without what differs
// from run to run (cpu, seq, timestamp).
func (l *procLog) of(tgid int) []proc.Event {
	var out []proc.Event
	for _, e := range l.events {
		if int(e.TGID) == tgid {
			e.CPU, e.Seq, e.Timestamp, e.Ack = 0, 0, 0, 0
			out = append(out, e)
		}
	}
	return out
}

// has returns a done func for receiveEvents: an event of type w about
// tgid has arrived.
func has(w proc.What, tgid int) func(l *procLog) bool {
	return func(l *procLog) bool {
		for _, e := range l.events {
			if e.What == w && int(e.TGID) == tgid {
				return true
			}
		}
		return false
	}
}

// The events every raw child's fork and exit make.
func forkEvent(pid, tid int) proc.Event {
	return proc.Event{What: proc.Fork, PID: int32(pid), TGID: int32(pid), ParentPID: int32(tid), ParentTGID: int32(os.Getpid())}
}

func exitEvent(pid, tid int, status uint32) proc.Event {
	return proc.Event{What: proc.Exit, PID: int32(pid), TGID: int32(pid), ExitCode: status, ExitSignal: int32(syscall.SIGCHLD),
		ParentPID: int32(tid), ParentTGID: int32(os.Getpid())}
}

func commEvent(pid int, name [16]byte) proc.Event {
	return proc.Event{What: proc.Comm, PID: int32(pid), TGID: int32(pid), Comm: unix.ByteSliceToString(name[:])}
}

// selfPath is the test binary, for the helpers.
func selfPath() string {
	p, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return p
}

// helperCmd runs the test binary as helper h.
func helperCmd(h string) *exec.Cmd {
	cmd := exec.Command(selfPath())
	cmd.Env = append(os.Environ(), procHelperEnv+"="+h)
	return cmd
}

var _ = Describe("The process events connector", Label("proc"), func() {
	var l *ledger
	withLedger(&l)

	It("reports a fork and an exit with its code: child and parent pids, exit_code = code << 8, SIGCHLD", func() {
		lockThread()
		c := procListen(proc.All, 0)
		pid, tid := forkChild(childExit, 3, 0)
		log := receiveEvents(c, has(proc.Exit, pid))
		Expect(reap(pid).ExitStatus()).To(Equal(3))
		Expect(log.of(pid)).To(Equal([]proc.Event{forkEvent(pid, tid), exitEvent(pid, tid, 3<<8)}), "events:\n%s", log)
		Expect(log.gaps).To(BeEmpty())
	})

	It("reports setgid and setuid with the new ids, gid first as the child called them", func() {
		lockThread()
		c := procListen(proc.All, 0)
		pid, tid := forkChild(childSetIDs, 4321, 1234)
		log := receiveEvents(c, has(proc.Exit, pid))
		Expect(reap(pid).ExitStatus()).To(BeZero(), "100: setgid failed, 101: setuid failed")
		Expect(log.of(pid)).To(Equal([]proc.Event{
			forkEvent(pid, tid),
			{What: proc.GID, PID: int32(pid), TGID: int32(pid), Real: 4321, Effective: 4321},
			{What: proc.UID, PID: int32(pid), TGID: int32(pid), Real: 1234, Effective: 1234},
			exitEvent(pid, tid, 0),
		}), "events:\n%s", log)
	})

	It("reports setsid", func() {
		lockThread()
		c := procListen(proc.All, 0)
		pid, tid := forkChild(childSetsid, 0, 0)
		log := receiveEvents(c, has(proc.Exit, pid))
		Expect(reap(pid).ExitStatus()).To(BeZero())
		Expect(log.of(pid)).To(Equal([]proc.Event{
			forkEvent(pid, tid), {What: proc.SID, PID: int32(pid), TGID: int32(pid)}, exitEvent(pid, tid, 0),
		}), "events:\n%s", log)
	})

	It("reports prctl(PR_SET_NAME) with the new comm", func() {
		lockThread()
		c := procListen(proc.All, 0)
		pid, tid := forkChild(childComm, 0, 0)
		log := receiveEvents(c, has(proc.Exit, pid))
		Expect(reap(pid).ExitStatus()).To(BeZero())
		Expect(log.of(pid)).To(Equal([]proc.Event{forkEvent(pid, tid), commEvent(pid, commName), exitEvent(pid, tid, 0)}), "events:\n%s", log)
	})

	It("reports a kill with the signal as exit_code", func() {
		lockThread()
		c := procListen(proc.All, 0)
		pid, tid := forkChild(childPause, 0, 0)
		receiveEvents(c, has(proc.Comm, pid)) // its SIGTERM is the default now
		Expect(unix.Kill(pid, unix.SIGTERM)).To(Succeed())
		log := receiveEvents(c, has(proc.Exit, pid))
		ws := reap(pid)
		Expect(ws.Signaled() && ws.Signal() == unix.SIGTERM).To(BeTrue(), "wait status %#x", ws)
		Expect(log.of(pid)).To(Equal([]proc.Event{exitEvent(pid, tid, uint32(unix.SIGTERM))}), "events after the child was ready:\n%s", log)
	})

	It("reports ptrace attach with the tracer and detach with none", func() {
		lockThread()
		c := procListen(proc.All, 0)
		pid, tid := forkChild(childPause, 0, 0)
		before := receiveEvents(c, has(proc.Comm, pid))
		Expect(before.of(pid)).To(Equal([]proc.Event{forkEvent(pid, tid), commEvent(pid, readyName)}), "events:\n%s", before)
		Expect(unix.PtraceAttach(pid)).To(Succeed())
		Expect(reap(pid).Stopped()).To(BeTrue(), "the tracee stops")
		Expect(unix.PtraceDetach(pid)).To(Succeed())
		Expect(unix.Kill(pid, unix.SIGKILL)).To(Succeed())
		log := receiveEvents(c, has(proc.Exit, pid))
		Expect(reap(pid).Signal()).To(Equal(unix.SIGKILL))
		Expect(log.of(pid)).To(Equal([]proc.Event{
			{What: proc.Ptrace, PID: int32(pid), TGID: int32(pid), TracerPID: int32(tid), TracerTGID: int32(os.Getpid())},
			{What: proc.Ptrace, PID: int32(pid), TGID: int32(pid)},
			exitEvent(pid, tid, uint32(unix.SIGKILL)),
		}), "events:\n%s", log)
	})

	It("reports a coredump before the exit, whether or not a core is written", func() {
		lockThread()
		pattern, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
		var lim unix.Rlimit
		Expect(unix.Getrlimit(unix.RLIMIT_CORE, &lim)).To(Succeed())
		GinkgoWriter.Printf("core_pattern %q, RLIMIT_CORE soft %d: the kernel sends the event in get_signal() before do_coredump() looks at either\n",
			strings.TrimSpace(string(pattern)), lim.Cur)
		c := procListen(proc.All, 0)
		pid, tid := forkChild(childCoredump, 0, 0)
		log := receiveEvents(c, has(proc.Exit, pid))
		ws := reap(pid)
		Expect(ws.Signaled() && ws.Signal() == unix.SIGQUIT).To(BeTrue(), "wait status %#x", ws)
		Expect(log.of(pid)).To(Equal([]proc.Event{
			forkEvent(pid, tid),
			{What: proc.Coredump, PID: int32(pid), TGID: int32(pid), ParentPID: int32(tid), ParentTGID: int32(os.Getpid())},
			exitEvent(pid, tid, uint32(ws)), // SIGQUIT, with 0x80 only if a core was written
		}), "events:\n%s", log)
	})

	It("reports an exec, and the threads of a process with pid != tgid and their exits with exit_signal -1", func() {
		c := procListen(proc.All, 0)
		cmd := helperCmd("threads:3")
		stdin, err := cmd.StdinPipe()
		Expect(err).NotTo(HaveOccurred())
		stdout, err := cmd.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(cmd.Start()).To(Succeed())
		h := cmd.Process.Pid
		line, err := bufio.NewReader(stdout).ReadString('\n')
		Expect(err).NotTo(HaveOccurred())
		var tids []int
		for _, f := range strings.Fields(strings.TrimPrefix(line, "tids")) {
			n, err := strconv.Atoi(f)
			Expect(err).NotTo(HaveOccurred(), line)
			tids = append(tids, n)
		}
		Expect(tids).To(HaveLen(3), line)
		stdin.Close()
		Expect(cmd.Wait()).To(Succeed())
		log := receiveEvents(c, func(l *procLog) bool {
			for _, e := range l.events {
				if e.What == proc.Exit && int(e.PID) == h {
					return true
				}
			}
			return false
		})
		var main []proc.Event
		threads := map[int][]proc.What{}
		for _, e := range log.of(h) {
			if int(e.PID) == h {
				main = append(main, e)
				continue
			}
			threads[int(e.PID)] = append(threads[int(e.PID)], e.What)
			switch e.What {
			case proc.Fork:
				Expect(e.ParentTGID).To(Equal(int32(os.Getpid())), "a thread's parent is its process's: %s", e.String())
			case proc.Exit:
				Expect(e.ExitSignal).To(Equal(int32(-1)), "a thread signals nobody: %s", e.String())
			}
		}
		Expect(main).To(HaveLen(3), "the helper's main thread:\n%s", log)
		Expect(main[0].What).To(Equal(proc.Fork))
		Expect(main[0].ParentTGID).To(Equal(int32(os.Getpid())))
		Expect(main[1]).To(Equal(proc.Event{What: proc.Exec, PID: int32(h), TGID: int32(h)}))
		Expect(main[2].What).To(Equal(proc.Exit))
		Expect(main[2].ExitCode).To(BeZero())
		Expect(main[2].ExitSignal).To(Equal(int32(syscall.SIGCHLD)))
		for _, t := range tids {
			Expect(t).NotTo(Equal(h))
			Expect(threads[t]).To(Equal([]proc.What{proc.Fork, proc.Exit}), "thread %d of %d:\n%s", t, h, log)
		}
	})

	It("counts listeners per socket from 6.6; on 6.1 an IGNORE from a socket that never listened silences every listener", func() {
		lockThread()
		c := procListen(proc.All, 0)
		stray := dial(nil)
		Expect(stray.Send(&connector.Message{ID: proc.ID, Data: proc.EncodeOp(proc.OpIgnore)})).To(Succeed())
		if !kernelAtLeast(6, 6) {
			// 6.1's atomic_dec took the count to 0: give it back
			// before the listener's own IGNORE (cleanups run last
			// first).
			DeferCleanup(func() {
				Expect(stray.Send(&connector.Message{ID: proc.ID, Data: proc.EncodeOp(proc.OpListen)})).To(Succeed())
			})
		}
		pid, tid := forkChild(childExit, 0, 0)
		DeferCleanup(reap, pid)
		if kernelAtLeast(6, 6) {
			// cn_proc_mcast_ctl decrements only for a socket whose
			// proc_input says it listened.
			log := receiveEvents(c, has(proc.Exit, pid))
			Expect(log.of(pid)).To(Equal([]proc.Event{forkEvent(pid, tid), exitEvent(pid, tid, 0)}), "events:\n%s", log)
		} else {
			// cn_proc.c:376 atomic_dec(&proc_event_num_listeners),
			// whoever asks: below 1, proc_*_connector return at once.
			log := receiveEvents(c, nil)
			Expect(log.of(pid)).To(BeEmpty(), "events after the stray IGNORE:\n%s", log)
		}
	})

	It("refuses an unknown op with EINVAL in the ack, to every listener of the group", func() {
		procListen(proc.All, 0)
		asker := dial(&connector.Config{Groups: []uint32{proc.Group}})
		const nonce = 0x5eed
		Expect(asker.Send(&connector.Message{ID: proc.ID, Seq: nonce, Ack: nonce, Data: proc.EncodeOp(7)})).To(Succeed())
		for {
			m, _, err := asker.Receive(timeout(replyTimeout))
			Expect(err).NotTo(HaveOccurred(), "no ack to op 7")
			e, err := proc.Decode(m)
			Expect(err).NotTo(HaveOccurred())
			if e.What == proc.None && e.Ack == nonce+1 {
				Expect(e.Err).To(Equal(syscall.EINVAL))
				Expect(e.Seq).NotTo(Equal(uint32(nonce)), "the ack's seq is the CPU's event counter, not the request's")
				break
			}
		}
	})

	Context("with an event filter", func() {
		It("gives an exit-only listener exit events only: the kernel filters from 6.6, the client before", func() {
			lockThread()
			c := procListen(proc.Exit, 0)
			if kernelAtLeast(6, 6) {
				Expect(c.KernelFilter()).To(BeTrue(), "6.6+ takes struct proc_input")
			} else {
				Expect(c.KernelFilter()).To(BeFalse(), "6.1 ignores an 8-byte request: cn_proc_mcast_ctl returns when msg->len != sizeof(enum proc_cn_mcast_op)")
				strict := proc.New(dial(&connector.Config{Groups: []uint32{proc.Group}}))
				Expect(strict.SubscribeFiltered(timeout(replyTimeout), proc.Exit)).To(MatchError(proc.ErrNoKernelFilter))
			}
			receiveEvents(c, nil) // what arrived while the filter was set
			before := c.Stats()
			pid, tid := forkChild(childSetsid, 0, 0)
			log := receiveEvents(c, has(proc.Exit, pid))
			reap(pid)
			Expect(log.of(pid)).To(Equal([]proc.Event{exitEvent(pid, tid, 0)}), "events:\n%s", log)
			filtered := c.Stats().Filtered - before.Filtered
			if kernelAtLeast(6, 6) {
				Expect(filtered).To(BeZero(), "events the client had to drop: the kernel's cn_filter sent only exits")
			} else {
				Expect(filtered).To(BeNumerically(">=", 2), "6.1 sends everything (fork, sid at least), the client drops it")
			}
		})

		It("takes nonzero-exit as 'exits with a nonzero code': in the kernel from 6.6, in the client on 6.1", func() {
			lockThread()
			conn := dial(&connector.Config{Groups: []uint32{proc.Group}})
			c := proc.New(conn)
			Expect(c.Subscribe(timeout(replyTimeout), proc.NonzeroExit)).To(Succeed())
			DeferCleanup(c.Close)
			receiveEvents(c, nil)
			zero, tid := forkChild(childExit, 0, 0)
			reap(zero)
			five, _ := forkChild(childExit, 5, 0)
			log := receiveEvents(c, has(proc.Exit, five))
			reap(five)
			Expect(log.of(zero)).To(BeEmpty(), "an exit with code 0:\n%s", log)
			Expect(log.of(five)).To(Equal([]proc.Event{exitEvent(five, tid, 5<<8)}))
			Expect(c.KernelFilter()).To(Equal(kernelAtLeast(6, 6)))
		})
	})

	Context("who may listen", func() {
		// The helper joins group 1, subscribes and renames itself while
		// the spec's own listener keeps cn_proc sending: what it reports
		// is what the kernel let it do.
		type result struct {
			Join    string `json:"join"`
			Ack     string `json:"ack"`
			Saw     bool   `json:"saw_own_comm"`
			CommPID int32  `json:"comm_tgid"`
			Getpid  int    `json:"getpid"`
		}
		who := func(name string, attr *syscall.SysProcAttr) (result, int) {
			GinkgoHelper()
			cmd := helperCmd("who:" + name)
			cmd.SysProcAttr = attr
			cmd.Stderr = GinkgoWriter
			out, err := cmd.Output()
			Expect(err).NotTo(HaveOccurred(), "helper %s: %s", name, out)
			var r result
			Expect(json.Unmarshal(out, &r)).To(Succeed(), "helper %s: %s", name, out)
			return r, cmd.Process.Pid
		}
		newer := kernelAtLeast(6, 6)

		It("without CAP_NET_ADMIN (uid 65534): 6.1 refuses the join; 6.12 lets it join, subscribe and receive", func() {
			procListen(proc.All, 0)
			r, pid := who("nobody", &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}})
			if newer {
				// connector.c cn_bind: group 1 needs nothing; cn_proc.c
				// cn_proc_mcast_ctl: no capability check at all.
				Expect(r).To(Equal(result{Join: "ok", Ack: "ok", Saw: true, CommPID: int32(pid), Getpid: pid}))
			} else {
				// No NL_CFG_F_NONROOT_RECV: netlink_bind wants
				// CAP_NET_ADMIN.
				Expect(r.Join).To(ContainSubstring("operation not permitted"))
			}
		})

		It("as root of a user namespace: 6.1 refuses the join; 6.12 lets it join, ignores its subscribe, and it receives what others asked for", func() {
			procListen(proc.All, 0)
			r, pid := who("userns", &syscall.SysProcAttr{
				Cloneflags:  syscall.CLONE_NEWUSER,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
			})
			if newer {
				Expect(r).To(Equal(result{Join: "ok", Ack: "none", Saw: true, CommPID: int32(pid), Getpid: pid}))
			} else {
				Expect(r.Join).To(ContainSubstring("operation not permitted"))
			}
		})

		It("in a child pid namespace: joins, its subscribe is ignored without an ack, and it receives others' events with the initial namespace's pids", func() {
			procListen(proc.All, 0)
			r, pid := who("pidns", &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID})
			Expect(r).To(Equal(result{Join: "ok", Ack: "none", Saw: true, CommPID: int32(pid), Getpid: 1}))
		})

		It("without CAP_NET_ADMIN, odd connector groups are open on 6.12 (cn_bind tests bit 0 of the group number), even ones closed", func() {
			for _, g := range []int{15, groupB, groupA} {
				cmd := helperCmd(fmt.Sprintf("join:%d", g))
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
				out, err := cmd.Output()
				Expect(err).NotTo(HaveOccurred(), "%s", out)
				if newer && g%2 == 1 {
					Expect(string(out)).To(Equal("ok\n"), "group %d", g)
				} else {
					Expect(string(out)).To(ContainSubstring("operation not permitted"), "group %d", g)
				}
			}
		})
	})

	It("loses events to a small receive buffer in a fork storm: ENOBUFS, gaps per CPU, and counts that add up with the probes'", func() {
		lockThread()
		c := procListen(proc.All, 4096)
		hog := startStarver()
		before, _ := settle(c)
		skipsBefore := suiteSkips()

		const storm = 300
		stop := startPreemptPressure()
		hog.on()
		for range storm {
			pid, _ := forkChild(childExit, 0, 0)
			reap(pid)
		}
		hogSaid := hog.off()
		stop()
		// Read what is queued, which ends the socket's congestion, then
		// a marker on every CPU closes the gaps at the storm's end.
		log := receiveEvents(c, nil)
		after, tail := settle(c)
		log.add(tail)
		skips := suiteSkips().Minus(skipsBefore)

		var missed uint64
		perCPU := map[uint32]uint64{}
		for _, g := range log.gaps {
			missed += g.Seqs.Len()
			perCPU[g.CPU] += g.Seqs.Len()
		}
		received := uint64(len(log.events))
		d := after.minus(before)
		ids, err := suiteWitness.p.Counters()
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("%d forks: received %d events, missed %d in gaps %v (%v), %d overruns; probes: %+v (%d ids counted so far); probe skips: %s; spinner: %s\n",
			storm, received, missed, perCPU, log.gaps, log.overruns, d, len(ids), skips, hogSaid)
		Expect(log.overruns).To(BeNumerically(">=", 1), "ENOBUFS")
		Expect(missed).To(BeNumerically(">", 0), "gaps")
		if !*preemptPressure {
			// The pressure's own comm events are received too.
			Expect(received).To(BeNumerically("<", 2*storm))
		}
		checkAccount("cn_proc's sends (probes) vs. received + missed", d.Sent, received+missed, skips,
			"fexit cn_netlink_send_mult")
		checkAccount("deliveries (probes) vs. received", d.Delivered, received, skips,
			"fentry cn_netlink_send_mult", "fentry __netlink_sendskb")
		checkAccount("overruns at the socket (probes) vs. seqs missing per CPU", d.Dropped, missed, skips,
			"fentry cn_netlink_send_mult", "fentry netlink_overrun")
	})
})

// suiteSkips is what the suite's probes could not record so far.
func suiteSkips() probe.Skips {
	GinkgoHelper()
	s, err := suiteWitness.p.Skips()
	Expect(err).NotTo(HaveOccurred(), "read the probes' skips")
	return s
}

// checkAccount holds a count of the suite's probes against what a spec's
// socket saw. The probes may fall short by no more than the runs the kernel
// skipped, in the window, of the programs that make the count (on a
// preemptible kernel another task preempted inside the same program on the
// CPU makes the kernel skip it there): those are said loudly in the report.
// Any other difference fails with the window's skips, naming the one that
// explains it or saying that none does.
func checkAccount(what string, probes, seen uint64, skips probe.Skips, programs ...string) {
	GinkgoHelper()
	if probes == seen {
		return
	}
	var skipped uint64
	for _, p := range programs {
		skipped += skips.Skipped[p]
	}
	if probes < seen && seen-probes <= skipped {
		AddReportEntry("probe skips", fmt.Sprintf("%s: the probes counted %d of %d; the kernel skipped %d runs of %s in the window (%s)",
			what, probes, seen, skipped, strings.Join(programs, ", "), skips))
		return
	}
	diff := fmt.Sprintf("%d more", probes-seen)
	if probes < seen {
		diff = fmt.Sprintf("%d fewer", seen-probes)
	}
	why := "none of the probes' skips explains it"
	switch n := max(probes, seen) - min(probes, seen); {
	case probes < seen && skips.NoStorage >= n:
		why = fmt.Sprintf("the %d no-storage skips cover it: those sends' tasks found their slots held by other tasks' sends, so their drops went unattributed", skips.NoStorage)
	case probes < seen && skips.Unattributed >= n:
		why = fmt.Sprintf("the %d unattributed socket events cover it: the probes saw them but matched no send", skips.Unattributed)
	case probes < seen && skips.Recursion >= n:
		why = fmt.Sprintf("the kernel skipped %d runs of the probes, but not of %s", skips.Recursion, strings.Join(programs, ", "))
	}
	Fail(fmt.Sprintf("%s: the probes counted %d, %s than seen (%d); probe skips in the window: %s; %s",
		what, probes, diff, seen, skips, why))
}

// startPreemptPressure, with -cnlab.preempt-pressure, runs the pressure
// helper until the returned func stops it; without, it does nothing.
func startPreemptPressure() (stop func()) {
	GinkgoHelper()
	if !*preemptPressure {
		return func() {}
	}
	cmd := helperCmd("pressure")
	in, err := cmd.StdinPipe()
	Expect(err).NotTo(HaveOccurred())
	out, err := cmd.StdoutPipe()
	Expect(err).NotTo(HaveOccurred())
	cmd.Stderr = GinkgoWriter
	Expect(cmd.Start()).To(Succeed(), "start the pressure helper")
	line, err := bufio.NewReader(out).ReadString('\n')
	Expect(err).NotTo(HaveOccurred(), "the pressure helper: %q", line)
	Expect(line).To(HavePrefix("ready"), "the pressure helper")
	GinkgoWriter.Printf("preempt pressure: %s", line)
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		in.Close()
		Expect(cmd.Wait()).To(Succeed(), "the pressure helper")
	}
	DeferCleanup(stop)
	return stop
}

// pressureHelper, on every CPU, runs a thread of the lowest priority
// (SCHED_IDLE) that renames itself in a loop, each rename a cn_proc comm
// event, so that it spends much of its time inside the probes' programs; a
// real-time thread (SCHED_FIFO) that wakes every 200 us, and so preempts it
// at once wherever it is on a preemptible kernel (PREEMPT_RT: a normal
// task's wakeup waits for the renamer's return to user space there); and a
// normal thread spinning in user space, which runs before the renamer once
// the real-time thread sleeps again, for up to hundreds of milliseconds. A
// task preempted inside a BPF program holds that program's per-CPU
// recursion guard, and task storage's per-CPU lock if it was taking it,
// until it runs again, and every other task of its CPU meets them
// meanwhile. It stops when stdin closes.
func pressureHelper() int {
	n := runtime.NumCPU()
	errs := make(chan error, 3*n)
	// thread pins a locked thread to cpu with policy and prio, then runs f.
	thread := func(cpu int, policy, prio uint32, f func()) {
		go func() {
			runtime.LockOSThread()
			var set unix.CPUSet
			set.Set(cpu)
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				errs <- fmt.Errorf("cpu %d: sched_setaffinity: %w", cpu, err)
				return
			}
			if err := unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: policy, Priority: prio}, 0); err != nil {
				errs <- fmt.Errorf("cpu %d: sched_setattr policy %d: %w", cpu, policy, err)
				return
			}
			errs <- nil
			f()
		}()
	}
	for cpu := range n {
		thread(cpu, unix.SCHED_IDLE, 0, func() {
			names := [2][16]byte{}
			copy(names[0][:], fmt.Sprintf("cnlab-press%d", cpu))
			copy(names[1][:], fmt.Sprintf("cnlab-PRESS%d", cpu))
			for i := 0; ; i++ {
				unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&names[i&1][0])), 0, 0, 0)
			}
		})
		thread(cpu, unix.SCHED_FIFO, 1, func() {
			nap := unix.NsecToTimespec(200_000)
			for {
				unix.Nanosleep(&nap, nil)
			}
		})
		thread(cpu, unix.SCHED_NORMAL, 0, func() {
			for {
			}
		})
	}
	for range 3 * n {
		if err := <-errs; err != nil {
			fmt.Fprintln(os.Stderr, "pressure:", err)
			return 1
		}
	}
	fmt.Printf("ready: on each of %d CPUs, a SCHED_IDLE renamer, a SCHED_FIFO waker and a spinner\n", n)
	var b [1]byte
	os.Stdin.Read(b[:])
	return 0
}

// markName is the comm a marker thread takes.
var markName = [16]byte{'c', 'n', 'l', 'a', 'b', '-', 'm', 'a', 'r', 'k'}

// markCPUs makes a comm event on every CPU, from a thread pinned to it
// that then ends (a locked goroutine's thread exits with it), and returns
// the number of CPUs.
func markCPUs() int {
	GinkgoHelper()
	n := runtime.NumCPU()
	for cpu := range n {
		done := make(chan error)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread goes
			var set unix.CPUSet
			set.Set(cpu)
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				done <- err
				return
			}
			done <- unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&markName[0])), 0, 0, 0)
		}()
		Expect(<-done).To(Succeed(), "mark cpu %d", cpu)
	}
	return n
}

// marked is a done func for receiveEvents: a marker from every CPU.
func marked(ncpu int) func(l *procLog) bool {
	return func(l *procLog) bool {
		seen := map[uint32]bool{}
		for _, e := range l.events {
			if e.What == proc.Comm && e.Comm == unix.ByteSliceToString(markName[:]) {
				seen[e.CPU] = true
			}
		}
		return len(seen) == ncpu
	}
}

// settle marks every CPU and reads the probes' counters for cn_proc once
// the markers and all before them are read, as one end of an account's
// window, returning what arrived. A message dropped at the socket is seen
// as a gap only when a later one arrives: a drop just before the counters
// are read would be counted by the probes on one side of the window and
// its gap seen on the other (issue 29: the fork storm's account was 2
// short under -cnlab.starve-rt, the exit of the marker thread and the
// event after it dropped by the 4096-byte buffer before the storm and
// their gap seen inside it). So a round that met an overrun is followed
// by another, whose markers close the gap, until one meets none. On
// 6.12-rt with -cnlab.starve-rt the starver's own start fills the buffer
// before the first markers, which are dropped.
func settle(c *proc.Conn) (procCounters, *procLog) {
	GinkgoHelper()
	all := &procLog{}
	for round := 1; round <= 10; round++ {
		// An overrun ends the round too: the markers may be what the
		// socket dropped.
		seen := marked(markCPUs())
		r := receiveEvents(c, func(l *procLog) bool { return l.overruns > 0 || seen(l) })
		cnt := stableCounters(c, r)
		all.add(r)
		if r.overruns == 0 {
			if round > 1 {
				GinkgoWriter.Printf("settled after %d rounds of markers (%d overruns, gaps %v)\n", round, all.overruns, all.gaps)
			}
			return cnt, all
		}
	}
	Fail(fmt.Sprintf("no round of markers without an overrun in 10: the socket keeps dropping while idle; %d overruns, gaps %v", all.overruns, all.gaps))
	return procCounters{}, nil
}

// add appends o's events, gaps and overruns to l.
func (l *procLog) add(o *procLog) {
	l.events = append(l.events, o.events...)
	l.gaps = append(l.gaps, o.gaps...)
	l.overruns += o.overruns
}

// procCounters are the probes' counts for cn_proc's id.
type procCounters struct{ Sent, Delivered, Dropped uint64 }

func (a procCounters) minus(b procCounters) procCounters {
	return procCounters{a.Sent - b.Sent, a.Delivered - b.Delivered, a.Dropped - b.Dropped}
}

// stableCounters reads the suite probes' counters for cn_proc's id once
// nothing more arrives at c, adding logs[1:] and what arrives meanwhile to
// logs[0].
func stableCounters(c *proc.Conn, logs ...*procLog) procCounters {
	GinkgoHelper()
	read := func() procCounters {
		all, err := suiteWitness.p.Counters()
		Expect(err).NotTo(HaveOccurred())
		k := all[proc.ID]
		return procCounters{k.Sent, k.Delivered, k.Dropped}
	}
	if len(logs) > 1 {
		for _, more := range logs[1:] {
			logs[0].add(more)
		}
	}
	for range 20 {
		cnt := read()
		more := receiveEvents(c, nil)
		if len(logs) > 0 {
			logs[0].add(more)
		}
		if len(more.events)+len(more.gaps)+more.overruns == 0 && read() == cnt {
			return cnt
		}
	}
	Fail("process events kept coming for 20 rounds: no quiet moment to read the probes' counters")
	return procCounters{}
}

// procHelper runs helper h in a re-executed test binary and returns its
// exit code.
func procHelper(h string) int {
	name, arg, _ := strings.Cut(h, ":")
	switch name {
	case "threads":
		// Each goroutine locked to its thread keeps it: n threads
		// besides the runtime's.
		n, _ := strconv.Atoi(arg)
		tids := make(chan int)
		for range n {
			go func() {
				runtime.LockOSThread()
				tids <- unix.Gettid()
				select {}
			}()
		}
		fmt.Print("tids")
		for range n {
			fmt.Print(" ", <-tids)
		}
		fmt.Println()
		var b [1]byte
		os.Stdin.Read(b[:]) // until the spec closes it
		return 0
	case "join":
		g, _ := strconv.Atoi(arg)
		c, err := connector.Dial(&connector.Config{Groups: []uint32{uint32(g)}})
		if err != nil {
			fmt.Println(err)
			return 0
		}
		c.Close()
		fmt.Println("ok")
		return 0
	case "who":
		return whoHelper(arg)
	case "hog":
		return hogHelper(arg)
	case "pressure":
		return pressureHelper()
	}
	fmt.Fprintf(os.Stderr, "unknown helper %q\n", h)
	return 2
}

// whoHelper joins group 1, subscribes, renames its thread and looks for
// its own comm event; it prints what happened as JSON.
func whoHelper(name string) int {
	r := map[string]any{"join": "ok", "ack": "ok", "saw_own_comm": false, "comm_tgid": 0, "getpid": os.Getpid()}
	defer func() { json.NewEncoder(os.Stdout).Encode(r) }()
	cc, err := connector.Dial(&connector.Config{Groups: []uint32{proc.Group}})
	if err != nil {
		r["join"] = err.Error()
		return 0
	}
	defer cc.Close()
	c := proc.New(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch err := c.Subscribe(ctx, proc.All); {
	case errors.Is(err, proc.ErrNoAck):
		r["ack"] = "none"
	case err != nil:
		r["ack"] = err.Error()
	}
	defer c.Close()
	comm := "cnlab-" + name
	var b [16]byte
	copy(b[:15], comm)
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0); err != nil {
		r["saw_own_comm"] = "prctl: " + err.Error()
		return 0
	}
	for {
		e, err := c.Receive(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return 0
		}
		if err == nil && e.What == proc.Comm && e.Comm == comm {
			r["saw_own_comm"], r["comm_tgid"] = true, e.TGID
			return 0
		}
	}
}
