package e2e

import (
	"os"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
)

// The connector core's own unload window (issue 24, item 5):
// cn_call_callback() finds the callback's entry under the queue lock, takes
// a reference on it, drops the lock and only then calls the callback, while
// cn_del_callback() unlinks the entry and returns without waiting for such a
// caller (drivers/connector/cn_queue.c). A module that unloads in between
// leaves the caller jumping into freed module text. No module can close
// this window (kmod/cnlab_gate.c); kernels/patches/connector/0001-*.patch
// does, in the core.
//
// The window is a few instructions wide. A kernel built with
// kernels/patches/lab/connector-callback-delay-knob.patch (make e2e
// KERNEL=7.2 KERNEL_PATCHES=...) widens it on demand: cn.callback_delay_ms
// makes the core sleep there, cn.callback_delayed counts the calls that
// did. Without the fix such a kernel oopses in this spec, which is the
// point: the run's verdict is the kernel's (exit 2). Other kernels lack the
// knob, and the spec says SKIP.
const (
	cnDelayParam   = "/sys/module/cn/parameters/callback_delay_ms"
	cnDelayedParam = "/sys/module/cn/parameters/callback_delayed"
	// Long enough to unload the module inside it under TCG with room to
	// spare; the fixed kernel's unload waits out what is left of it.
	cnDelay = 5 * time.Second
)

// cnDelayed reads how many calls the core has held at the knob.
func cnDelayed() uint64 {
	GinkgoHelper()
	b, err := os.ReadFile(cnDelayedParam)
	Expect(err).NotTo(HaveOccurred())
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	Expect(err).NotTo(HaveOccurred(), "%s: %q", cnDelayedParam, b)
	return n
}

// setCnDelay sets the core's delay between finding a callback and calling it.
func setCnDelay(d time.Duration) {
	GinkgoHelper()
	Expect(os.WriteFile(cnDelayParam, []byte(strconv.FormatInt(d.Milliseconds(), 10)), 0)).To(Succeed())
}

var _ = Describe("Unloading the module while the core is about to call its callback", Label("unload-window"), func() {
	It("waits in cn_del_callback for the call the core found, which runs the callback before the module goes", func() {
		if _, err := os.Stat(cnDelayParam); err != nil {
			// Loud in the log and counted in the summary: a kernel
			// without the knob says nothing about the window.
			GinkgoWriter.Printf("SKIP unload-window: %v\n", err)
			Skip("SKIP: this kernel has no cn.callback_delay_ms (build it with KERNEL_PATCHES=kernels/patches/lab/connector-callback-delay-knob.patch): the core's unload window was NOT checked")
		}
		conn := dial(nil)
		params := moduleParams()
		loaded := true
		DeferCleanup(func() {
			if !loaded {
				loadModule(params)
			}
		})

		// Every callback is held while the knob is set: set it for
		// this one send only, and put it back once the send waits.
		DeferCleanup(setCnDelay, time.Duration(0))
		before := cnDelayed()
		setCnDelay(cnDelay)
		const seq = 0x5eed
		done := inBackground(func() error {
			return conn.Send(&connector.Message{ID: echoID, Seq: seq, Data: []byte("window")})
		})
		Eventually(cnDelayed).WithTimeout(cnDelay/2).WithPolling(5*time.Millisecond).
			Should(Equal(before+1), "the core found the echo callback and waits before calling it")
		setCnDelay(0)

		// The echo id is removed under the waiting call. Unfixed, the
		// unload returns at once and the call, when it wakes, jumps into
		// the freed module: the kernel oopses here.
		took := unloadModule()
		loaded = false
		GinkgoWriter.Printf("the unload took %v with a call held for %v in the core\n", took, cnDelay)

		endsWith(done, nil, "the send whose callback the core held", 0)
		expectReply(conn, seq, 0)
		Expect(took).To(BeNumerically(">=", time.Second), "the unload waited for the call the core had found (it was held %v)", cnDelay)
		loadModule(params)
		loaded = true
	})
})
