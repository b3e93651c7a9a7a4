package e2e

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/userspace/connector"
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

// The counters restart with every load, so this spec keeps no ledger; it
// checks the module's allocations before each unload instead.
var _ = Describe("Loading and unloading the module", Label("lifecycle"), func() {
	It("survives unload and load under traffic and a timer, and leaves no memory behind", func() {
		params := moduleParams()
		slabBefore := slabKB()

		var stop atomic.Bool
		var answered, unanswered atomic.Uint64
		var wg sync.WaitGroup
		const hammers = 3
		for w := 0; w < hammers; w++ {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				c, err := connector.Dial(nil)
				Expect(err).NotTo(HaveOccurred())
				defer c.Close()
				for !stop.Load() {
					ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
					_, err := c.Request(ctx, &connector.Message{ID: echoID, Data: []byte("hammer")})
					cancel()
					if err == nil {
						answered.Add(1)
					} else {
						unanswered.Add(1) // the module was away
					}
				}
			}()
		}
		DeferCleanup(func() {
			stop.Store(true)
			wg.Wait()
		})

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
			Expect(st.Allocs-st.Frees).To(BeNumerically("<=", hammers), "cycle %d: the module's allocations outstanding before unloading (%d, %d freed)", i, st.Allocs, st.Frees)
			if i%2 == 0 {
				// Every other cycle, unload with the timer running.
				Expect(c.TimerStart(timeout(replyTimeout), groupC, 5*time.Millisecond)).To(Succeed())
			}
			slowest = max(slowest, unloadModule())
			loadModule(params)
		}
		stop.Store(true)
		wg.Wait()

		// What the module still holds after the last cycle's traffic.
		c := ctl()
		Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed())
		st, err := c.Stats(timeout(replyTimeout))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Allocs).To(Equal(st.Frees))

		slabAfter := slabKB()
		AddReportEntry("lifecycle", map[string]any{"cycles": *reloadCycles, "answered": answered.Load(), "unanswered": unanswered.Load(),
			"slowest unload": slowest.String(), "slab kB before": slabBefore, "slab kB after": slabAfter})
		GinkgoWriter.Printf("%d cycles; echo answered %d, unanswered %d; slowest unload %v; slab %d kB -> %d kB\n",
			*reloadCycles, answered.Load(), unanswered.Load(), slowest, slabBefore, slabAfter)
		Expect(answered.Load()).To(BeNumerically(">", 0), "the hammering clients got answers between reloads")
		// Slab use moves with everything the kernel does; a leak of even a
		// few hundred bytes per cycle would show beyond this.
		Expect(slabAfter-slabBefore).To(BeNumerically("<", 2048), "slab growth in kB over %d cycles", *reloadCycles)

		reply, err := dial(nil).Request(timeout(replyTimeout), &connector.Message{ID: echoID, Data: []byte("after")})
		Expect(err).NotTo(HaveOccurred(), "the echo after the last load")
		Expect(string(reply.Data)).To(Equal("after"))
	})
})
