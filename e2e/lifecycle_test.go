package e2e

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

var (
	modulePath   = flag.String("cnlab.module", "/lib/cnlab/cnlab.ko", "the cnlab module, reloaded by the lifecycle spec")
	reloadCycles = flag.Int("cnlab.reload-cycles", 100, "unload and load cycles of the lifecycle spec")
)

// moduleParams returns the parameters the loaded module was given.
func moduleParams() string {
	GinkgoHelper()
	var out []string
	for _, p := range []string{"echo_idx", "echo_val", "ctl_idx", "ctl_val", "ack_skew"} {
		b, err := os.ReadFile("/sys/module/cnlab/parameters/" + p)
		Expect(err).NotTo(HaveOccurred(), "is the cnlab module loaded?")
		out = append(out, p+"="+strings.TrimSpace(string(b)))
	}
	return strings.Join(out, " ")
}

// slabKB reads the kernel's slab use from /proc/meminfo.
func slabKB() int {
	GinkgoHelper()
	f, err := os.Open("/proc/meminfo")
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Slab:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			Expect(err).NotTo(HaveOccurred())
			return n
		}
	}
	Fail("no Slab: line in /proc/meminfo")
	return 0
}

func loadModule(params string) {
	GinkgoHelper()
	f, err := os.Open(*modulePath)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	Expect(unix.FinitModule(int(f.Fd()), params, 0)).To(Succeed(), "load %s %s", *modulePath, params)
}

// unloadModule unloads cnlab and returns how long it took; a module that
// will not go within 10s fails the spec.
func unloadModule() time.Duration {
	GinkgoHelper()
	start := time.Now()
	for {
		err := unix.DeleteModule("cnlab", unix.O_NONBLOCK)
		if err == nil {
			return time.Since(start)
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EBUSY) || time.Since(start) > 10*time.Second {
			Fail("unload cnlab: " + err.Error() + " after " + time.Since(start).String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hammers are clients that each send requests to one id until stopped (at
// the latest when the spec ends), and check each reply: answered counts
// the echoes of their requests, unanswered the requests that got nothing
// (the module was away), wrong keeps the last reply that was not the echo.
type hammers struct {
	answered, unanswered atomic.Uint64
	wrong                atomic.Value
	stopped              atomic.Bool
	wg                   sync.WaitGroup
}

func startHammers(n int, id connector.ID) *hammers {
	h := &hammers{}
	for range n {
		h.wg.Add(1)
		go func() {
			defer GinkgoRecover()
			defer h.wg.Done()
			c, err := connector.Dial(nil)
			Expect(err).NotTo(HaveOccurred())
			defer c.Close()
			for i := 0; !h.stopped.Load(); i++ {
				data := fmt.Sprintf("hammer #%d", i)
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				r, err := c.Request(ctx, &connector.Message{ID: id, Data: []byte(data)})
				cancel()
				switch {
				case err != nil:
					h.unanswered.Add(1)
				case r.ID != id || string(r.Data) != data:
					h.wrong.Store(fmt.Sprintf("asked %s for %q, got %+v", id, data, r))
				default:
					h.answered.Add(1)
				}
			}
		}()
	}
	DeferCleanup(h.stop)
	return h
}

func (h *hammers) stop() {
	h.stopped.Store(true)
	h.wg.Wait()
}

// The counters restart with every load, so this spec keeps no ledger; it
// checks the module's allocations before each unload instead.
var _ = Describe("Loading and unloading the module", Label("lifecycle"), func() {
	It("survives unload and load under traffic and a timer, and leaves no memory behind", func() {
		params := moduleParams()
		slabBefore := slabKB()

		const clients = 3
		h := startHammers(clients, echoID)

		var slowest time.Duration
		for i := 0; i < *reloadCycles; i++ {
			c := ctl()
			Expect(c.TimerStart(timeout(replyTimeout), groupC, 5*time.Millisecond)).To(Succeed(), "cycle %d", i)
			time.Sleep(20 * time.Millisecond)
			Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed())
			st, err := c.Stats(timeout(replyTimeout))
			Expect(err).NotTo(HaveOccurred())
			// Each hammering client may have one echo reply in flight;
			// the module's exit checks allocs == frees exactly.
			Expect(st.Allocs-st.Frees).To(BeNumerically("<=", clients), "cycle %d: the module's allocations outstanding before unloading (%d, %d freed)", i, st.Allocs, st.Frees)
			if i%2 == 0 {
				// Every other cycle, unload with the timer running.
				Expect(c.TimerStart(timeout(replyTimeout), groupC, 5*time.Millisecond)).To(Succeed())
			}
			slowest = max(slowest, unloadModule())
			loadModule(params)
		}
		h.stop()
		Expect(h.wrong.Load()).To(BeNil(), "a reply that is not the echo of the request")

		// What the module still holds after the last cycle's traffic.
		c := ctl()
		Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed())
		st, err := c.Stats(timeout(replyTimeout))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Allocs).To(Equal(st.Frees))

		slabAfter := slabKB()
		AddReportEntry("lifecycle", map[string]any{"cycles": *reloadCycles, "answered": h.answered.Load(), "unanswered": h.unanswered.Load(),
			"slowest unload": slowest.String(), "slab kB before": slabBefore, "slab kB after": slabAfter})
		GinkgoWriter.Printf("%d cycles; echo answered %d, unanswered %d; slowest unload %v; slab %d kB -> %d kB\n",
			*reloadCycles, h.answered.Load(), h.unanswered.Load(), slowest, slabBefore, slabAfter)
		Expect(h.answered.Load()).To(BeNumerically(">", 0), "the hammering clients got answers between reloads")
		// Slab use moves with everything the kernel does; a leak of even a
		// few hundred bytes per cycle would show beyond this.
		Expect(slabAfter-slabBefore).To(BeNumerically("<", 2048), "slab growth in kB over %d cycles", *reloadCycles)

		reply, err := dial(nil).Request(timeout(replyTimeout), &connector.Message{ID: echoID, Data: []byte("after")})
		Expect(err).NotTo(HaveOccurred(), "the echo after the last load")
		Expect(string(reply.Data)).To(Equal("after"))
	})
})

// What unloading does with what the module's users left in it. The counters
// restart with every load, so these specs keep no ledger.
var _ = Describe("Unloading the module", Label("lifecycle", "unload"), func() {
	It("removes the further ids still registered, announces each, and leaves them free for the next load", func() {
		params := moduleParams()
		c := ctl()
		conn := dial(nil)
		notes := dial(&connector.Config{Groups: []uint32{wire.NotifyGroup}})
		ids := []connector.ID{{Idx: wire.Idx, Val: 0x950}, {Idx: wire.Idx, Val: 0x951}, {Idx: wire.Idx + 1, Val: 0x952}}
		for _, id := range ids {
			Expect(c.Register(timeout(replyTimeout), id)).To(Succeed(), "register %s", id)
		}
		// The spec's first client: the one made after the reload is
		// closed by the time this runs (cleanups run last first).
		first := c
		DeferCleanup(func() {
			if !moduleLoaded() {
				loadModule(params)
			}
			for _, id := range ids {
				if err := first.Unregister(timeout(replyTimeout), id); err != nil {
					Expect(err).To(MatchError(syscall.ENOENT), "unregister %s after the spec", id)
				}
			}
		})
		want := map[connector.ID]string{echoID: "cnlab_echo", ctlID: "cnlab_ctl"}
		for _, id := range ids {
			want[id] = "cnlab_extra"
			reply, err := conn.Request(timeout(replyTimeout), &connector.Message{ID: id, Data: []byte("before")})
			Expect(err).NotTo(HaveOccurred(), "request to %s before the unload", id)
			Expect(reply.ID).To(Equal(id))
		}
		Expect(cnlabCallbacks()).To(Equal(want), "cnlab's callbacks before the unload")
		var on []string
		for _, id := range ids {
			on = append(on, notifyLine(id, true))
		}
		Expect(notifications(notes)).To(Equal(on))

		klog := openKernelLog()
		took := unloadModule()
		GinkgoWriter.Printf("unloaded with %d further ids in %v\n", len(ids), took)
		Expect(cnlabCallbacks()).To(BeEmpty(), "cnlab's callbacks after the unload")
		// The control id and the echo id go first, then the further ids,
		// slot by slot.
		off := []string{notifyLine(ctlID, false), notifyLine(echoID, false)}
		for _, id := range ids {
			off = append(off, notifyLine(id, false))
		}
		Expect(notifications(notes)).To(Equal(off), "what the unload announced")
		for _, id := range ids {
			_, err := conn.Request(timeout(quiet), &connector.Message{ID: id, Data: []byte("anyone?")})
			Expect(err).To(MatchError(context.DeadlineExceeded), "an answer from %s after the unload", id)
		}
		for _, line := range klog.lines() {
			Expect(line).NotTo(ContainSubstring("WARNING"), "the kernel's log during the unload")
		}

		// The core holds none of them: a new load registers them again.
		loadModule(params)
		c = ctl()
		for _, id := range ids {
			Expect(c.Register(timeout(replyTimeout), id)).To(Succeed(), "register %s after the reload", id)
			reply, err := conn.Request(timeout(replyTimeout), &connector.Message{ID: id, Data: []byte("after")})
			Expect(err).NotTo(HaveOccurred(), "request to %s after the reload", id)
			Expect(reply.ID).To(Equal(id))
			Expect(c.Unregister(timeout(replyTimeout), id)).To(Succeed(), "unregister %s after the reload", id)
		}
	})

	// A request to a further id that the core found before the unload
	// removed it reaches the callback only after the gate closed, and gets
	// no answer: the lowest slot's id goes first, and each id after it
	// (removed and announced in turn) widens that window.
	It("answers a further id hammered through unloads from that id, or not at all", func() {
		const cycles = 20
		params := moduleParams()
		DeferCleanup(func() {
			if !moduleLoaded() {
				loadModule(params)
			}
		})
		var ids []connector.ID
		for i := range 8 {
			ids = append(ids, connector.ID{Idx: wire.Idx, Val: 0x960 + uint32(i)})
		}
		h := startHammers(2, ids[0])
		for i := range cycles {
			c := ctl()
			for _, id := range ids {
				Expect(c.Register(timeout(replyTimeout), id)).To(Succeed(), "cycle %d: register %s", i, id)
			}
			seen := h.answered.Load()
			Eventually(func(g Gomega) {
				g.Expect(h.wrong.Load()).To(BeNil(), "cycle %d: a reply that is not the echo of the request", i)
				g.Expect(h.answered.Load()).To(BeNumerically(">", seen), "cycle %d: the hammers' requests to %s are answered", i, ids[0])
			}).Should(Succeed())
			unloadModule()
			Expect(cnlabCallbacks()).To(BeEmpty(), "cycle %d: cnlab's callbacks after the unload", i)
			loadModule(params)
		}
		h.stop()
		GinkgoWriter.Printf("%d unloads with %s hammered: %d answered, %d unanswered\n", cycles, ids[0], h.answered.Load(), h.unanswered.Load())
		Expect(h.wrong.Load()).To(BeNil(), "a reply that is not the echo of the request")
	})

	It("sends the late replies still waiting at once, without waiting for their delay, frees them, and sends nothing after", func() {
		const (
			delay   = 6 * time.Second
			pending = 3
		)
		params := moduleParams()
		DeferCleanup(func() {
			if !moduleLoaded() {
				loadModule(params)
			}
		})
		c := ctl()
		conn := dial(nil)
		Expect(c.SetEchoMode(timeout(replyTimeout), control.EchoDelay, pending, delay)).To(Succeed())
		start := time.Now()
		for i := range pending {
			Expect(conn.Send(&connector.Message{ID: echoID, Seq: uint32(100 + i), Data: []byte(fmt.Sprintf("late #%d", i))})).To(Succeed())
		}
		st := stats()
		Expect(st.LatePending).To(Equal(uint64(pending)), "late replies waiting")
		// Each late reply is two allocations: its work and its message.
		Expect(st.Allocs-st.Frees).To(Equal(uint64(2*pending)), "the module's allocations outstanding with %d late replies waiting", pending)
		_, _, err := conn.Receive(timeout(quiet))
		Expect(err).To(MatchError(context.DeadlineExceeded), "a late reply before its delay, or before the unload")

		klog := openKernelLog()
		took := unloadModule()
		GinkgoWriter.Printf("unloaded with %d late replies waiting in %v\n", pending, took)
		Expect(took).To(BeNumerically("<", delay/2), "the unload waited for the late replies' delay")
		got := map[uint32]string{}
		for range pending {
			m, _, err := conn.Receive(timeout(replyTimeout))
			Expect(err).NotTo(HaveOccurred(), "the late replies at the unload; got %v", got)
			Expect(m.ID).To(Equal(echoID))
			Expect(m.Ack).To(Equal(m.Seq+1), "the late reply to seq %d", m.Seq)
			got[m.Seq] = string(m.Data)
		}
		Expect(time.Since(start)).To(BeNumerically("<", delay), "the late replies came at the unload, not at their delay")
		Expect(got).To(Equal(map[uint32]string{100: "late #0", 101: "late #1", 102: "late #2"}))
		// Past their delay: nothing more, neither the replies again nor
		// anything else.
		_, _, err = conn.Receive(timeout(time.Until(start.Add(delay + time.Second))))
		Expect(err).To(MatchError(context.DeadlineExceeded), "a message after the unload's late replies")
		for _, line := range klog.lines() {
			// cnlab_exit() WARNs when allocations and frees differ.
			Expect(line).NotTo(ContainSubstring("WARNING"), "the kernel's log during the unload")
			Expect(line).NotTo(ContainSubstring("unloading with"), "the kernel's log during the unload")
		}
		loadModule(params)
	})
})
