package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/proc"
	"github.com/cnlab/cnlab/userspace/wire"
)

// procID is cn_proc's id, CN_IDX_PROC:CN_VAL_PROC, which every kernel of
// the matrix (PROC_EVENTS) registers at boot.
var procID = connector.ID{Idx: 1, Val: 1}

// moduleLoaded reports whether cnlab is loaded.
func moduleLoaded() bool {
	_, err := os.Stat("/sys/module/cnlab")
	return err == nil
}

// tryLoadModule loads the module with params and returns finit_module's
// error.
func tryLoadModule(params string) error {
	GinkgoHelper()
	f, err := os.Open(*modulePath)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	return unix.FinitModule(int(f.Fd()), params, 0)
}

// unloadForSpec unloads the module and returns the parameters it had; the
// spec's cleanup loads it again with them unless it is loaded by then.
func unloadForSpec() string {
	GinkgoHelper()
	params := moduleParams()
	unloadModule()
	DeferCleanup(func() {
		if !moduleLoaded() {
			loadModule(params)
		}
	})
	return params
}

// connectorCallbacks returns the connector's callbacks as
// /proc/net/connector lists them: id -> name.
func connectorCallbacks() map[connector.ID]string {
	GinkgoHelper()
	f, err := os.Open("/proc/net/connector")
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	out := map[connector.ID]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 || fields[0] == "Name" {
			continue
		}
		id, err := connector.ParseID(fields[1])
		Expect(err).NotTo(HaveOccurred(), "/proc/net/connector: %q", sc.Text())
		out[id] = fields[0]
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	return out
}

// cnlabCallbacks returns the callbacks of cnlab's the connector lists.
func cnlabCallbacks() map[connector.ID]string {
	GinkgoHelper()
	out := map[connector.ID]string{}
	for id, name := range connectorCallbacks() {
		if strings.HasPrefix(name, "cnlab") {
			out[id] = name
		}
	}
	return out
}

// kernelLog reads the kernel's log from the moment it is made: lines
// returns the messages logged since (or since the last call).
type kernelLog struct{ fd int }

func openKernelLog() *kernelLog {
	GinkgoHelper()
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	Expect(err).NotTo(HaveOccurred(), "open /dev/kmsg")
	DeferCleanup(unix.Close, fd)
	_, err = unix.Seek(fd, 0, unix.SEEK_END)
	Expect(err).NotTo(HaveOccurred(), "seek /dev/kmsg to its end")
	return &kernelLog{fd: fd}
}

func (k *kernelLog) lines() []string {
	GinkgoHelper()
	var out []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(k.fd, buf)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return out
		case errors.Is(err, unix.EPIPE): // overwritten before it was read
			continue
		case err != nil:
			Fail("read /dev/kmsg: " + err.Error())
		}
		// "prio,seq,time,flags;message\n" and continuation lines.
		rec := string(buf[:n])
		if _, msg, ok := strings.Cut(rec, ";"); ok {
			out = append(out, strings.SplitN(msg, "\n", 2)[0])
		}
	}
}

// notifications returns the ids, and whether each came or went, that
// cnlab announced on c (joined to the notification group) within quiet.
func notifications(c *connector.Conn) []string {
	GinkgoHelper()
	msgs, overruns := receiveAll(c)
	Expect(overruns).To(BeZero())
	var out []string
	for _, m := range msgs {
		Expect(m.ID.Val).To(Equal(uint32(wire.NotifyVal)), "a message on the notification group: %+v", m)
		n, err := control.ParseNotify(m.Data)
		Expect(err).NotTo(HaveOccurred())
		out = append(out, notifyLine(connector.ID{Idx: n.Idx, Val: n.Val}, n.On != 0))
	}
	return out
}

func notifyLine(id connector.ID, on bool) string {
	if on {
		return id.String() + " registered"
	}
	return id.String() + " removed"
}

// procEventsArrive checks that cn_proc, which holds 1:1, still sends a
// listener the fork and exit of a child.
func procEventsArrive() {
	GinkgoHelper()
	lockThread()
	c := procListen(proc.All, 0)
	pid, _ := forkChild(childExit, 7, 0)
	log := receiveEvents(c, has(proc.Exit, pid))
	Expect(reap(pid).ExitStatus()).To(Equal(7))
	Expect(has(proc.Fork, pid)(log)).To(BeTrue(), "the child's fork event; events:\n%s", log)
}

// The counters restart with every load, so these specs keep no ledger.
var _ = Describe("Module parameters that cannot work", Label("lifecycle", "params"), func() {
	var (
		params string
		klog   *kernelLog
		notes  *connector.Conn
	)
	BeforeEach(func() {
		params = unloadForSpec()
		klog = openKernelLog()
		notes = dial(&connector.Config{Groups: []uint32{wire.NotifyGroup}})
	})

	// failsToLoad loads the module with params and extra, and expects
	// EINVAL, the module not loaded and no id of its left behind, and
	// want in the kernel's log; then that a normal load works.
	failsToLoad := func(extra, want string) {
		GinkgoHelper()
		err := tryLoadModule(params + " " + extra)
		Expect(err).To(MatchError(unix.EINVAL), "load with %s", extra)
		Expect(moduleLoaded()).To(BeFalse(), "the module after a failed load with %s", extra)
		Expect(cnlabCallbacks()).To(BeEmpty(), "cnlab's callbacks after a failed load with %s", extra)
		Expect(klog.lines()).To(ContainElement("cnlab: "+want), "the kernel's log says why")
	}

	loadsAfter := func() {
		GinkgoHelper()
		loadModule(params)
		reply, err := dial(nil).Request(timeout(replyTimeout), &connector.Message{ID: echoID, Data: []byte("after")})
		Expect(err).NotTo(HaveOccurred(), "the echo after a normal load")
		Expect(string(reply.Data)).To(Equal("after"))
		Expect(cnlabCallbacks()).To(Equal(map[connector.ID]string{echoID: "cnlab_echo", ctlID: "cnlab_ctl"}))
	}

	It("refuses equal echo and control ids with EINVAL, registering nothing", func() {
		failsToLoad(fmt.Sprintf("ctl_idx=%d ctl_val=%d", echoID.Idx, echoID.Val),
			fmt.Sprintf("echo and control ids are both %d:%d; give them different ids", echoID.Idx, echoID.Val))
		Expect(notifications(notes)).To(BeEmpty(), "notifications of a load that registered nothing")
		loadsAfter()
	})

	It("refuses an echo id another connector user holds (cn_proc's 1:1) with EINVAL, and leaves that user working", func() {
		Expect(connectorCallbacks()).To(HaveKeyWithValue(procID, "cn_proc"), "cn_proc holds %s (CONFIG_PROC_EVENTS)", procID)
		failsToLoad(fmt.Sprintf("echo_idx=%d echo_val=%d", procID.Idx, procID.Val),
			fmt.Sprintf("cannot register echo id %d:%d: %d", procID.Idx, procID.Val, -int(unix.EINVAL)))
		Expect(notifications(notes)).To(BeEmpty(), "notifications of a load that registered nothing")
		Expect(connectorCallbacks()).To(HaveKeyWithValue(procID, "cn_proc"))
		procEventsArrive()
		loadsAfter()
	})

	It("refuses a control id another connector user holds (cn_proc's 1:1) with EINVAL, removes the echo id it had registered, and leaves that user working", func() {
		Expect(connectorCallbacks()).To(HaveKeyWithValue(procID, "cn_proc"), "cn_proc holds %s (CONFIG_PROC_EVENTS)", procID)
		failsToLoad(fmt.Sprintf("ctl_idx=%d ctl_val=%d", procID.Idx, procID.Val),
			fmt.Sprintf("cannot register control id %d:%d: %d", procID.Idx, procID.Val, -int(unix.EINVAL)))
		Expect(notifications(notes)).To(Equal([]string{notifyLine(echoID, true), notifyLine(echoID, false)}),
			"the echo id came and went")
		_, err := dial(nil).Request(timeout(quiet), &connector.Message{ID: echoID, Data: []byte("anyone?")})
		Expect(err).To(MatchError(context.DeadlineExceeded), "an answer from the echo id of a module that failed to load")
		Expect(connectorCallbacks()).To(HaveKeyWithValue(procID, "cn_proc"))
		procEventsArrive()
		loadsAfter()
	})
})
