package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/probe"
	"github.com/cnlab/cnlab/userspace/wire"
)

// The third witness. The probes are attached for the whole suite, and every
// spec with a ledger checks their account of the module's sends, between
// the ledger's two readings of the module's counters, against both ends:
// the module's per-destination and per-errno counts, and each socket the
// spec opened, which must have received exactly the messages the probes
// saw delivered to it (so a message it lacks is one they saw dropped there).

// witness reads the suite's probes as they go, keeping the records of the
// module's sends.
type witness struct {
	p    *probe.Probe
	mu   sync.Mutex
	recs []*probe.Record
	err  error
	// incomplete says why the last window could not be cut out (a
	// ledger reading's record missing), if it could not.
	incomplete string
}

var suiteWitness *witness

// startWitness attaches the suite's probes and reads them until the suite
// ends.
func startWitness() {
	p, err := probe.Start(probe.Filter{Mode: probe.ModeAll})
	Expect(err).NotTo(HaveOccurred(), "attach the probes, the suite's third witness: every kernel of the matrix has what they need (BTF, fentry)")
	w := &witness{p: p}
	suiteWitness = w
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := p.Read(time.Time{})
			if err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				return
			}
			if r, ok := ev.(*probe.Record); ok && r.ID.Idx == wire.Idx {
				w.mu.Lock()
				w.recs = append(w.recs, r)
				w.mu.Unlock()
			}
		}
	}()
	DeferCleanup(func() {
		p.Close()
		<-done
	})
}

// lost is how many events the probes have lost so far.
func (w *witness) lost() uint64 {
	GinkgoHelper()
	n, err := w.p.Lost()
	Expect(err).NotTo(HaveOccurred())
	return n
}

// isStatsReply reports whether r is the module's answer to the suite's
// statistics socket's request seq: the mark of a ledger's reading.
func isStatsReply(r *probe.Record, seq uint32) bool {
	return r.ID == ctlID && r.PortID == statsConn.PortID() && r.Seq == seq
}

// window returns the module's sends from the reply to the reading with seq
// from up to the reply to the reading with seq to, without the latter: the
// module counts a send once it returns, so the first reply is in the
// counters' difference and the second is not. It forgets what comes before.
func (w *witness) window(from, to uint32) []*probe.Record {
	GinkgoHelper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		err := w.err
		start, end := -1, -1
		for i, r := range w.recs {
			if start < 0 && isStatsReply(r, from) {
				start = i
			}
			if start >= 0 && isStatsReply(r, to) {
				end = i
				break
			}
		}
		if end >= 0 {
			out := append([]*probe.Record(nil), w.recs[start:end]...)
			w.recs = append([]*probe.Record(nil), w.recs[end:]...)
			w.incomplete = ""
			w.mu.Unlock()
			return out
		}
		if time.Now().After(deadline) {
			// checkWitnesses fails unless the probes counted skips
			// that can explain the missing record.
			w.incomplete = fmt.Sprintf("no probe record of the reply to the ledger's second reading (seq %d) within 10s", to)
			if start < 0 {
				w.incomplete = fmt.Sprintf("no probe record of the reply to the ledger's first reading (seq %d)", from)
			}
			w.recs = nil
			w.mu.Unlock()
			return nil
		}
		w.mu.Unlock()
		Expect(err).NotTo(HaveOccurred(), "the suite's probes stopped")
		time.Sleep(20 * time.Millisecond)
	}
}

// seen is what a socket of the spec received from the module.
type seen struct {
	c    *connector.Conn
	port uint32
	mu   sync.Mutex
	msgs map[msgKey]int
}

// msgKey is how a message is matched between a socket and the probes.
type msgKey struct {
	id       connector.ID
	seq, ack uint32
	len      uint32
}

func (k msgKey) String() string {
	return fmt.Sprintf("%s seq %d ack %d len %d", k.id, k.seq, k.ack, k.len)
}

var (
	watchedMu sync.Mutex
	watched   []*seen
)

// watch has the witness account for what c receives from the module until
// the spec ends.
func watch(c *connector.Conn) {
	s := &seen{c: c, port: c.PortID(), msgs: map[msgKey]int{}}
	c.Observe(func(m connector.Message, _ connector.Source) {
		if m.ID.Idx != wire.Idx {
			return
		}
		s.mu.Lock()
		s.msgs[msgKey{m.ID, m.Seq, m.Ack, uint32(len(m.Data))}]++
		s.mu.Unlock()
	})
	watchedMu.Lock()
	watched = append(watched, s)
	watchedMu.Unlock()
}

// forgetWatched starts a spec's list of sockets afresh.
func forgetWatched() {
	watchedMu.Lock()
	watched = nil
	watchedMu.Unlock()
}

// drainWatched reads what is left queued on the spec's sockets, so that
// every message delivered to them is counted as received: delivered means
// queued on the socket, whether or not the spec read it. A socket the spec
// closed has nothing left to read.
func drainWatched() {
	GinkgoHelper()
	watchedMu.Lock()
	defer watchedMu.Unlock()
	for _, s := range watched {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			_, _, err := s.c.Receive(ctx)
			cancel()
			if err == nil || errors.Is(err, connector.ErrOverrun) || errors.Is(err, connector.ErrMalformed) {
				continue
			}
			break
		}
	}
}

// destIndex is where the module counts a send: 0 for unicasts, else its group.
func destIndex(r *probe.Record) int {
	if r.IsUnicast() {
		return 0
	}
	return int(r.Group)
}

// checkWitnesses holds the probes' records of the module's sends between
// the two readings against the module's counters and the spec's sockets.
func checkWitnesses(before, after *control.Stats, lostBefore uint64, recs []*probe.Record) {
	GinkgoHelper()
	// What the probes could not record is counted, never silent (on
	// PREEMPT_RT another task's run of a program on the same CPU is
	// skipped, on 6.1 task storage can be busy): with skips counted
	// during the spec, the account may miss that many sends or
	// deliveries, and no more, and must not invent any.
	skipped := suiteWitness.lost() - lostBefore
	suiteWitness.mu.Lock()
	incomplete := suiteWitness.incomplete
	suiteWitness.mu.Unlock()
	if incomplete != "" {
		Expect(skipped).To(BeNumerically(">", 0), incomplete)
		AddReportEntry("probe skips", fmt.Sprintf("%s, and %d runs of the probes skipped and counted: no account of this spec", incomplete, skipped))
		return
	}
	if skipped > 0 {
		AddReportEntry("probe skips", fmt.Sprintf("%d runs of the probes skipped and counted during the spec: the witness allows that many missing", skipped))
	}

	// The module's counters, destination by destination and errno by errno.
	var probed [len(wire.Stats{}.Dests)]wire.DestStats
	for _, r := range recs {
		d := destIndex(r)
		Expect(d).To(BeNumerically("<", len(probed)), "a send of the module to group %d, beyond its groups: %s", r.Group, r)
		ds := &probed[d]
		ds.Sent++
		switch errno := syscall.Errno(-r.Ret); {
		case r.Ret >= 0:
			ds.Ok++
		case errno == syscall.ESRCH:
			ds.Esrch++
		case errno == syscall.EAGAIN:
			ds.Eagain++
		case errno == syscall.ECONNREFUSED:
			ds.Econnrefused++
		case errno == syscall.ENOMEM:
			ds.Enomem++
		default:
			ds.Other++
		}
	}
	var missing uint64
	for d := range probed {
		a, b := after.Dests[d], before.Dests[d]
		module := wire.DestStats{Sent: a.Sent - b.Sent, Ok: a.Ok - b.Ok, Esrch: a.Esrch - b.Esrch, Eagain: a.Eagain - b.Eagain,
			Econnrefused: a.Econnrefused - b.Econnrefused, Enomem: a.Enomem - b.Enomem, Other: a.Other - b.Other}
		if skipped == 0 {
			Expect(probed[d]).To(Equal(module), "%s: the probes' count of the module's sends and their return codes vs. the module's own", destName(d))
			continue
		}
		p := probed[d]
		for _, f := range [][2]uint64{{p.Sent, module.Sent}, {p.Ok, module.Ok}, {p.Esrch, module.Esrch}, {p.Eagain, module.Eagain},
			{p.Econnrefused, module.Econnrefused}, {p.Enomem, module.Enomem}, {p.Other, module.Other}} {
			Expect(f[0]).To(BeNumerically("<=", f[1]), "%s: the probes saw more than the module sent: %+v vs. %+v", destName(d), p, module)
		}
		missing += module.Sent - p.Sent
	}
	Expect(missing).To(BeNumerically("<=", skipped), "sends of the module the probes missed vs. the skips they counted")

	// Each socket of the spec: received exactly what the probes saw
	// delivered to it, and a unicast to it that succeeded reached it.
	watchedMu.Lock()
	defer watchedMu.Unlock()
	for _, s := range watched {
		delivered := map[msgKey]int{}
		unlisted := 0 // sends that reached more sockets than the record lists
		var problems, nowhere []string
		for _, r := range recs {
			k := msgKey{r.ID, r.Seq, r.Ack, r.Len}
			if r.IsUnicast() && r.PortID == s.port && r.Ret >= 0 && !r.Lists(s.port, probe.Delivered) {
				nowhere = append(nowhere, fmt.Sprintf("the unicast %s returned %d but the probes saw it queued nowhere", k, r.Ret))
			}
			if r.Lists(s.port, probe.Delivered) {
				delivered[k]++
			} else if int(r.Delivered+r.Dropped) > len(r.Receivers) {
				unlisted++
			}
		}
		s.mu.Lock()
		// A delivery whose probe run was skipped is one of the skips.
		if uint64(len(nowhere)) > skipped {
			problems = append(problems, nowhere...)
		}
		unlisted += int(skipped)
		for k, n := range s.msgs {
			if d := delivered[k]; n > d {
				if n-d > unlisted {
					problems = append(problems, fmt.Sprintf("received %d x %s, the probes saw %d delivered here", n, k, d))
				}
				unlisted -= n - d
			}
		}
		for k, d := range delivered {
			if n := s.msgs[k]; n < d {
				problems = append(problems, fmt.Sprintf("the probes saw %d x %s delivered here, the socket received %d", d, k, n))
			}
		}
		s.mu.Unlock()
		Expect(problems).To(BeEmpty(), "the socket on port %d vs. the probes' account:\n%s", s.port, strings.Join(problems, "\n"))
	}
}

func destName(d int) string {
	if d == 0 {
		return "unicasts"
	}
	return fmt.Sprintf("group %d", d)
}

// dropEverything attaches a socket filter to c that drops every message.
func dropEverything(c *connector.Conn) {
	GinkgoHelper()
	rc, err := c.SyscallConn()
	Expect(err).NotTo(HaveOccurred())
	ret0 := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	var serr error
	Expect(rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(ret0)), Filter: &ret0[0]})
	})).To(Succeed())
	Expect(serr).NotTo(HaveOccurred(), "attach a socket filter")
}

// The witness itself must be able to fail. netlink_unicast() returns
// success when the receiver's socket filter drops the message, so the
// module counts it sent; only the probes see it reach no queue.
var _ = Describe("The witness", Label("probes"), func() {
	It("flags a unicast the module counts as sent that reached no socket (a socket filter dropped it)", func() {
		// The witness forgives as many missing deliveries as the probes
		// counted skipped runs (PREEMPT_RT skips another task's run on
		// the same CPU), so it can only be shown to fail in a try
		// without skips: up to five tries, then a loud skip.
		const tries = 5
		for try := 1; try <= tries; try++ {
			l := newLedger()
			listener := dial(nil)
			dropEverything(listener)
			res, err := ctl().Burst(timeout(replyTimeout), wire.Burst{Portid: listener.PortID(), Count: 1, Size: wire.SizeofBcast})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Ok).To(Equal(uint32(1)), "the module's send returned success")
			failures := InterceptGomegaFailures(l.check)
			if skipped := suiteWitness.lost() - l.lost; skipped > 0 {
				AddReportEntry("probe skips", fmt.Sprintf("try %d: %d runs of the probes skipped: no verdict to check", try, skipped))
				continue
			}
			Expect(strings.Join(failures, "\n")).To(ContainSubstring(
				fmt.Sprintf("the unicast %s returned %d but the probes saw it queued nowhere",
					msgKey{bcastID, res.Seq, 0, wire.SizeofBcast}, nlmsgLen(wire.SizeofBcast))),
				"the witness's verdict on a message the socket filter dropped")
			return
		}
		Skip(fmt.Sprintf("the probes skipped runs during each of %d tries on this kernel: the witness's verdict could not be shown", tries))
	})
})

// nlmsgLen is the length netlink_unicast() returns for a connector message
// with size bytes of data: the netlink header, struct cn_msg and the data.
func nlmsgLen(size int) int { return wire.NlmsgHdrLen + wire.SizeofCnMsg + size }
