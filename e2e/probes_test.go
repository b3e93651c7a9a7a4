package e2e

import (
	"encoding/binary"
	"errors"
	"runtime"
	"slices"
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

var bcastID = connector.ID{Idx: wire.Idx, Val: wire.BcastVal}

// startProbes attaches the probes, filtered to the module's broadcast id,
// for the spec.
func startProbes() *probe.Probe {
	GinkgoHelper()
	id := bcastID
	p, err := probe.Start(probe.Filter{Mode: probe.ModeAll, ID: &id})
	Expect(err).NotTo(HaveOccurred(), "the probes must attach on every kernel of the matrix")
	DeferCleanup(p.Close)
	return p
}

// records reads the probe records of the burst res, by seq.
func records(p *probe.Probe, res wire.BurstResult) map[uint32]*probe.Record {
	GinkgoHelper()
	out := map[uint32]*probe.Record{}
	deadline := time.Now().Add(5 * time.Second)
	for uint32(len(out)) < res.Count {
		ev, err := p.Read(deadline)
		if errors.Is(err, probe.ErrTimeout) {
			break
		}
		Expect(err).NotTo(HaveOccurred())
		if r, ok := ev.(*probe.Record); ok && r.Seq-res.Seq < res.Count {
			out[r.Seq] = r
		}
	}
	lost, err := p.Lost()
	Expect(err).NotTo(HaveOccurred())
	Expect(lost).To(BeZero(), "events the ring buffer could not take")
	Expect(out).To(HaveLen(int(res.Count)), "a probe record for every message of the burst")
	return out
}

// agree checks the probes' records against what the client on port portid
// received: a seq it got was delivered, any other was dropped at its port
// because the queue was full. It returns how many were dropped.
func agree(recs map[uint32]*probe.Record, msgs []connector.Message, portid uint32) uint64 {
	GinkgoHelper()
	got := map[uint32]bool{}
	for _, m := range msgs {
		got[m.Seq] = true
	}
	var dropped uint64
	for seq, r := range recs {
		if got[seq] {
			Expect(r.Outcome()).To(Equal(probe.Delivered), "seq %d reached the client: %s", seq, r)
			continue
		}
		dropped++
		Expect(r.Outcome()).To(Equal(probe.QueueFull), "seq %d, which the client did not get: %s", seq, r)
		Expect(r.DroppedAt(portid)).To(BeTrue(), "seq %d dropped at the client's port %d: %s", seq, portid, r)
	}
	return dropped
}

// Three witnesses of each message: the module's counters, the client, and
// the probes. Every seq the module sent is either received by the client or
// recorded by the probes as dropped, at the client's socket, for the reason
// the module's counters give.
var _ = Describe("The probes' account", Label("probes", "drops"), func() {
	var (
		l *ledger
		c *control.Client
	)
	withLedger(&l)
	BeforeEach(func() { c = ctl() })

	const n, size = 100, 1024

	It("records every broadcast a full queue lost, with the listener's port, and agrees with both ends", func() {
		p := startProbes()
		listener := dial(&connector.Config{Groups: []uint32{groupA}, ReadBuffer: 4096})
		before := stats().Dests[groupA]
		res, err := c.Burst(timeout(replyTimeout), wire.Burst{Group: groupA, Count: n, Size: size})
		Expect(err).NotTo(HaveOccurred())
		msgs, _ := receiveAll(listener)
		after := stats().Dests[groupA]
		dropped := agree(records(p, res), msgs, listener.PortID())
		Expect(dropped).To(BeNumerically(">", 0), "a %d-byte burst fits no 4 KiB buffer", n*size)
		Expect(after.Esrch-before.Esrch).To(Equal(dropped), "the module's ESRCH count vs. the probes' drops")
		Expect(after.Ok - before.Ok).To(Equal(uint64(len(msgs))))
	})

	It("records every unicast a full queue lost as dropped at that port, and agrees with both ends", func() {
		p := startProbes()
		listener := dial(&connector.Config{ReadBuffer: 4096})
		before := stats().Dests[0]
		res, err := c.Burst(timeout(replyTimeout), wire.Burst{Portid: listener.PortID(), Count: n, Size: size})
		Expect(err).NotTo(HaveOccurred())
		msgs, _ := receiveAll(listener)
		after := stats().Dests[0]
		dropped := agree(records(p, res), msgs, listener.PortID())
		l.unicastLost.Add(dropped)
		Expect(dropped).To(BeNumerically(">", 0), "a %d-byte burst fits no 4 KiB buffer", n*size)
		Expect(after.Eagain-before.Eagain).To(Equal(dropped), "the module's EAGAIN count vs. the probes' drops")
	})

	It("records a broadcast to a group nobody joined as 'no listener'", func() {
		p := startProbes()
		res, err := c.Burst(timeout(replyTimeout), wire.Burst{Group: groupC, Count: 3, Size: wire.SizeofBcast})
		Expect(err).NotTo(HaveOccurred())
		for seq, r := range records(p, res) {
			Expect(r.Outcome()).To(Equal(probe.NoListener), "seq %d: %s", seq, r)
			Expect(r.Receivers).To(BeEmpty())
		}
	})
})

// startProbesMode attaches probes of their own for the spec, in mode m,
// filtered to id (nil: every id).
func startProbesMode(m probe.Mode, id *connector.ID, inbound bool) *probe.Probe {
	GinkgoHelper()
	p, err := probe.Start(probe.Filter{Mode: m, ID: id, Inbound: inbound})
	Expect(err).NotTo(HaveOccurred(), "the probes must attach in mode %s on every kernel of the matrix", m)
	DeferCleanup(func() {
		Expect(p.Close()).To(Succeed())
		Expect(p.Close()).To(Succeed(), "a second Close")
	})
	return p
}

// readRecords reads p's send records until none arrives for a while.
func readRecords(p *probe.Probe) []*probe.Record {
	GinkgoHelper()
	var out []*probe.Record
	for {
		ev, err := p.Read(time.Now().Add(500 * time.Millisecond))
		if errors.Is(err, probe.ErrTimeout) {
			return out
		}
		Expect(err).NotTo(HaveOccurred())
		if r, ok := ev.(*probe.Record); ok {
			out = append(out, r)
		}
	}
}

// setBroadcastError sets NETLINK_BROADCAST_ERROR on c: a broadcast that
// cannot be queued there returns -ENOBUFS.
func setBroadcastError(c *connector.Conn) {
	GinkgoHelper()
	rc, err := c.SyscallConn()
	Expect(err).NotTo(HaveOccurred())
	var serr error
	Expect(rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_NETLINK, unix.NETLINK_BROADCAST_ERROR, 1)
	})).To(Succeed())
	Expect(serr).NotTo(HaveOccurred())
}

// The modes, and the corners of the account (issue 16).
var _ = Describe("The probes' modes and corners", Label("probes"), func() {
	var (
		l *ledger
		c *control.Client
	)
	withLedger(&l)
	BeforeEach(func() { c = ctl() })

	It("counts, in mode counters, every send by return code and every drop at a full queue, and records nothing", func() {
		id := bcastID
		p := startProbesMode(probe.ModeCounters, nil, false)
		listener := dial(&connector.Config{Groups: []uint32{groupA}, ReadBuffer: 4096})
		before := stats().Dests[groupA]
		_, err := c.Burst(timeout(replyTimeout), wire.Burst{Group: groupA, Count: 100, Size: 1024})
		Expect(err).NotTo(HaveOccurred())
		receiveAll(listener)
		after := stats().Dests[groupA]
		counts, err := p.Counters()
		Expect(err).NotTo(HaveOccurred())
		skips, err := p.Skips()
		Expect(err).NotTo(HaveOccurred())
		k := counts[id]
		Expect(after.Esrch-before.Esrch).To(BeNumerically(">", 0), "a 100 KiB burst fits no 4 KiB buffer")
		const exit, overrun = "fexit cn_netlink_send_mult", "fentry netlink_overrun"
		checkAccount("sends counted vs. the module's", k.Sent, uint64(after.Sent-before.Sent), skips, exit)
		checkAccount("successful sends vs. the module's", k.ByErrno[0], uint64(after.Ok-before.Ok), skips, exit)
		checkAccount("ESRCH sends vs. the module's", k.ByErrno[syscall.ESRCH], uint64(after.Esrch-before.Esrch), skips, exit)
		checkAccount("drops vs. the module's ESRCH (each ESRCH of a one-listener broadcast is one drop)",
			k.Dropped, uint64(after.Esrch-before.Esrch), skips, overrun)
		// What the probes themselves could not do: only the kernel may
		// skip a run (counted above).
		skips.Recursion, skips.Skipped = 0, nil
		Expect(skips.Total()).To(BeZero(), "the probes' own skips: %s", skips)
		ev, err := p.Read(time.Now().Add(200 * time.Millisecond))
		Expect(err).To(MatchError(probe.ErrTimeout), "mode counters sends no records, got %v", ev)
	})

	It("records, in mode losses, exactly the broadcasts a full queue lost, at the listener's port", func() {
		id := bcastID
		p := startProbesMode(probe.ModeLosses, &id, false)
		listener := dial(&connector.Config{Groups: []uint32{groupA}, ReadBuffer: 4096})
		res, err := c.Burst(timeout(replyTimeout), wire.Burst{Group: groupA, Count: 100, Size: 1024})
		Expect(err).NotTo(HaveOccurred())
		msgs, _ := receiveAll(listener)
		got := map[uint32]bool{}
		for _, m := range msgs {
			got[m.Seq] = true
		}
		recs := readRecords(p)
		lost := map[uint32]bool{}
		for _, r := range recs {
			if r.Seq-res.Seq >= res.Count {
				continue
			}
			lost[r.Seq] = true
			Expect(got[r.Seq]).To(BeFalse(), "a record of seq %d, which the listener got: %s", r.Seq, r)
			Expect(r.Outcome()).To(Equal(probe.QueueFull), "%s", r)
			Expect(r.DroppedAt(listener.PortID())).To(BeTrue(), "%s", r)
		}
		Expect(len(lost)).To(Equal(int(res.Count)-len(msgs)), "a record for each seq the listener lacks, and no other")
	})

	It("says -ENOBUFS is a listener with NETLINK_BROADCAST_ERROR that could not take it, not out of memory", func() {
		id := bcastID
		p := startProbesMode(probe.ModeLosses, &id, false)
		listener := dial(&connector.Config{Groups: []uint32{groupA}, ReadBuffer: 4096})
		setBroadcastError(listener)
		res, err := c.Burst(timeout(replyTimeout), wire.Burst{Group: groupA, Count: 20, Size: 1024})
		Expect(err).NotTo(HaveOccurred())
		receiveAll(listener)
		n := 0
		for _, r := range readRecords(p) {
			if r.Seq-res.Seq >= res.Count {
				continue
			}
			n++
			Expect(r.Ret).To(Equal(-int32(syscall.ENOBUFS)), "%s", r)
			Expect(r.Outcome()).To(Equal(probe.ListenerFailed), "%s", r)
			Expect(r.DroppedAt(listener.PortID())).To(BeTrue(), "%s", r)
		}
		Expect(n).To(BeNumerically(">", 0), "a 20 KiB burst fits no 4 KiB buffer")
	})

	It("says a broadcast its only listener's filter dropped is not 'no listener', in modes all and losses", func() {
		id := bcastID
		all := startProbesMode(probe.ModeAll, &id, false)
		losses := startProbesMode(probe.ModeLosses, &id, false)
		listener := dial(&connector.Config{Groups: []uint32{groupB}})
		dropEverything(listener)
		res, err := c.Burst(timeout(replyTimeout), wire.Burst{Group: groupB, Count: 2, Size: wire.SizeofBcast})
		Expect(err).NotTo(HaveOccurred())
		for _, r := range readRecords(all) {
			if r.Seq-res.Seq < res.Count {
				Expect(r.Outcome()).To(Equal(probe.NoneTook), "%s", r)
			}
		}
		n := 0
		for _, r := range readRecords(losses) {
			if r.Seq-res.Seq < res.Count {
				n++
				Expect(r.Outcome()).To(Equal(probe.Filtered), "%s", r)
				Expect(r.Lists(listener.PortID(), probe.Filtered)).To(BeTrue(), "%s", r)
			}
		}
		Expect(n).To(Equal(int(res.Count)))
	})

	It("takes the inbound port from the socket (NETLINK_CB), not from nlmsg_pid, which the sender writes", func() {
		id := connector.ID{Idx: wire.Idx, Val: 0x7e57} // no callback: the core drops it, the module never sees it
		p := startProbesMode(probe.ModeAll, &id, true)
		sender := dial(nil)
		b := make([]byte, wire.NlmsgHdrLen+wire.SizeofCnMsg)
		binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
		binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_DONE)
		binary.NativeEndian.PutUint32(b[8:], 77)    // nlmsg_seq
		binary.NativeEndian.PutUint32(b[12:], 4242) // nlmsg_pid: not the socket's
		binary.NativeEndian.PutUint32(b[16:], id.Idx)
		binary.NativeEndian.PutUint32(b[20:], id.Val)
		binary.NativeEndian.PutUint32(b[24:], 77) // seq
		Expect(sender.WriteRaw(b)).To(Succeed())
		ev, err := p.Read(time.Now().Add(5 * time.Second))
		Expect(err).NotTo(HaveOccurred())
		in, ok := ev.(*probe.Inbound)
		Expect(ok).To(BeTrue(), "an inbound record, got %v", ev)
		Expect(in.PortID).To(Equal(sender.PortID()), "the sending socket's port")
		Expect(in.NlmsgPid).To(Equal(uint32(4242)), "what the sender wrote")
	})

	It("looks at no other netlink protocol's deliveries (sk_protocol first)", func() {
		p := startProbesMode(probe.ModeAll, nil, false)
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		Expect(err).NotTo(HaveOccurred())
		defer unix.Close(fd)
		Expect(unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})).To(Succeed())
		req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg)
		binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
		binary.NativeEndian.PutUint16(req[4:], unix.RTM_GETLINK)
		binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
		Expect(unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})).To(Succeed())
		buf := make([]byte, 1<<16)
		n, _, err := unix.Recvfrom(fd, buf, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(BeNumerically(">", 0), "rtnetlink answered")
		skips, err := p.Skips()
		Expect(err).NotTo(HaveOccurred())
		Expect(skips.Unattributed).To(BeZero(), "an rtnetlink delivery looked at as a connector one")
	})
})

// Without a ledger: the witness flags this unicast (see "The witness").
var _ = Describe("The probes' account of a socket filter", Label("probes"), func() {
	It("says a unicast a socket filter dropped was dropped by the filter, in modes all and losses", func() {
		id := bcastID
		all := startProbesMode(probe.ModeAll, &id, false)
		losses := startProbesMode(probe.ModeLosses, &id, false)
		listener := dial(nil)
		dropEverything(listener)
		_, err := ctl().Burst(timeout(replyTimeout), wire.Burst{Portid: listener.PortID(), Count: 1, Size: wire.SizeofBcast})
		Expect(err).NotTo(HaveOccurred())
		for _, p := range []*probe.Probe{all, losses} {
			recs := readRecords(p)
			Expect(recs).To(HaveLen(1))
			Expect(recs[0].Outcome()).To(Equal(probe.Filtered), "%s", recs[0])
		}
	})

})

// onCPU0 runs f on a thread of its own pinned to CPU 0: a timer the module
// arms there fires there, inside whatever the thread is doing.
func onCPU0(f func()) {
	GinkgoHelper()
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		var set unix.CPUSet
		set.Set(0)
		Expect(unix.SchedSetaffinity(0, &set)).To(Succeed())
		f()
	}()
	<-done
}

// userBroadcast sends n connector messages of size bytes with id to group
// from a user-space socket (root may), as the kernel's connector would.
func userBroadcast(id connector.ID, group uint32, n, size int) {
	GinkgoHelper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	Expect(err).NotTo(HaveOccurred())
	defer unix.Close(fd)
	Expect(unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})).To(Succeed())
	b := make([]byte, wire.NlmsgHdrLen+wire.SizeofCnMsg+size)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_DONE)
	binary.NativeEndian.PutUint32(b[16:], id.Idx)
	binary.NativeEndian.PutUint32(b[20:], id.Val)
	binary.NativeEndian.PutUint16(b[32:], uint16(size))
	for i := 0; i < n; i++ {
		binary.NativeEndian.PutUint32(b[24:], uint32(i))
		Expect(unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (group - 1)})).To(Succeed())
	}
}

// Losses belong to the send they happen in (issue 26, probes 1, 2, 5, 6, 7).
var _ = Describe("The probes' account of each send", Label("probes"), func() {
	It("charges a drop to the send it happened in, not to a timer's send from an interrupt nested in it", func() {
		id := bcastID
		p := startProbesMode(probe.ModeLosses, &id, false)
		listener := dial(&connector.Config{Groups: []uint32{groupA}, ReadBuffer: 4096})
		c := ctl()
		before := stats().Dests[groupA]
		var res wire.BurstResult
		onCPU0(func() {
			// The timer broadcasts to group C, where nobody listens:
			// its sends drop nothing.
			Expect(c.TimerStart(timeout(replyTimeout), groupC, time.Millisecond)).To(Succeed())
			var err error
			res, err = c.Burst(timeout(replyTimeout), wire.Burst{Group: groupA, Count: 3000, Size: 1024})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed())
		})
		receiveAll(listener)
		after := stats().Dests[groupA]
		skips, err := p.Skips()
		Expect(err).NotTo(HaveOccurred())
		var burstLost uint64
		for _, r := range readRecords(p) {
			if r.Group != groupA {
				// The timer's sends: no listener, nothing dropped.
				Expect(r.Dropped+r.Failed).To(BeZero(), "a timer's send charged with a drop at group %d: %s", groupA, r)
				continue
			}
			if r.Seq-res.Seq < res.Count {
				burstLost++
				Expect(r.DroppedAt(listener.PortID())).To(BeTrue(), "%s", r)
			}
		}
		checkAccount("burst sends recorded lost vs. the module's ESRCH", burstLost, uint64(after.Esrch-before.Esrch), skips,
			"fentry cn_netlink_send_mult", "fexit cn_netlink_send_mult", "fentry netlink_overrun")
	})

	It("charges a user-space broadcast's drop to no kernel send, and does not count it unattributed", func() {
		counters := startProbesMode(probe.ModeCounters, nil, false)
		all := startProbesMode(probe.ModeAll, nil, false)
		skipsBefore, err := all.Skips()
		Expect(err).NotTo(HaveOccurred())
		listener := dial(&connector.Config{Groups: []uint32{groupC}, ReadBuffer: 4096})
		c := ctl()
		userID := connector.ID{Idx: wire.Idx, Val: 0x7e58} // no callback
		onCPU0(func() {
			userBroadcast(userID, groupC, 20, 1024)
			// The module's reply is sent by this thread, in its
			// request's cn_rx_skb: the thread's next kernel send.
			_, err := c.Stats(timeout(replyTimeout))
			Expect(err).NotTo(HaveOccurred())
		})
		_, overruns := receiveAll(listener)
		Expect(overruns).To(BeNumerically(">", 0), "20 KiB of broadcasts overran a 4 KiB queue")
		counts, err := counters.Counters()
		Expect(err).NotTo(HaveOccurred())
		Expect(counts[ctlID].Dropped).To(BeZero(), "the module's reply lost nothing: %+v", counts[ctlID])
		skipsAfter, err := all.Skips()
		Expect(err).NotTo(HaveOccurred())
		Expect(skipsAfter.Unattributed-skipsBefore.Unattributed).To(BeZero(), "a user-space broadcast's drop is no kernel send's")
		Expect(skipsAfter.UserSpace-skipsBefore.UserSpace).To(BeNumerically(">", 0), "the user-space broadcast's drops, counted apart")
	})

	It("with -seq 0-0 reports seq 0 only, and refuses a range whose lo is above its hi", func() {
		id := bcastID
		p, err := probe.Start(seqFilter(probe.ModeAll, &id, 0, 0))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(p.Close)
		res, err := ctl().Burst(timeout(replyTimeout), wire.Burst{Group: groupC, Count: 3, Size: wire.SizeofBcast})
		Expect(err).NotTo(HaveOccurred())
		for _, r := range readRecords(p) {
			Expect(r.Seq).To(BeZero(), "a record outside -seq 0-0 (the burst's seqs start at %d): %s", res.Seq, r)
		}
		_, err = probe.Start(seqFilter(probe.ModeAll, &id, 9, 3))
		Expect(err).To(HaveOccurred(), "seqs 9-3: a range that matches nothing")
	})

	It("with -port P reports a broadcast lost at the listener on port P", func() {
		id := bcastID
		listener := dial(&connector.Config{Groups: []uint32{groupA}, ReadBuffer: 4096})
		p, err := probe.Start(probe.Filter{Mode: probe.ModeLosses, ID: &id, PortID: listener.PortID()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(p.Close)
		res, err := ctl().Burst(timeout(replyTimeout), wire.Burst{Group: groupA, Count: 50, Size: 1024})
		Expect(err).NotTo(HaveOccurred())
		msgs, _ := receiveAll(listener)
		n := 0
		for _, r := range readRecords(p) {
			if r.Seq-res.Seq < res.Count {
				n++
				Expect(r.DroppedAt(listener.PortID())).To(BeTrue(), "%s", r)
			}
		}
		Expect(n).To(Equal(int(res.Count)-len(msgs)), "a record for each broadcast lost at port %d", listener.PortID())
	})

	It("counts, in mode counters with Inbound, what user space sends to the kernel", func() {
		id := connector.ID{Idx: wire.Idx, Val: 0x7e59} // no callback
		p := startProbesMode(probe.ModeCounters, nil, true)
		sender := dial(nil)
		b := make([]byte, wire.NlmsgHdrLen+wire.SizeofCnMsg)
		binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
		binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_DONE)
		binary.NativeEndian.PutUint32(b[16:], id.Idx)
		binary.NativeEndian.PutUint32(b[20:], id.Val)
		for i := 0; i < 3; i++ {
			Expect(sender.WriteRaw(b)).To(Succeed())
		}
		counts, err := p.Counters()
		Expect(err).NotTo(HaveOccurred())
		Expect(counts[id].Inbound).To(Equal(uint64(3)), "Filter.Inbound in mode counters: %+v", counts[id])
	})

	It("wakes the reader when a record waits, not at its next poll", func() {
		p := startProbesMode(probe.ModeAll, &ctlID, false)
		c := ctl()
		var lat []time.Duration
		for i := 0; i < 11; i++ {
			read := make(chan time.Time, 1)
			go func() {
				defer GinkgoRecover()
				for {
					ev, err := p.Read(time.Now().Add(2 * time.Second))
					Expect(err).NotTo(HaveOccurred(), "the reply's record")
					if r, ok := ev.(*probe.Record); ok && r.PortID == c.Conn.PortID() {
						read <- time.Now()
						return
					}
				}
			}()
			time.Sleep(30 * time.Millisecond) // the reader waits in Read
			_, err := c.Stats(timeout(replyTimeout))
			Expect(err).NotTo(HaveOccurred())
			replied := time.Now()
			lat = append(lat, (<-read).Sub(replied))
		}
		slices.Sort(lat)
		Expect(lat[len(lat)/2]).To(BeNumerically("<", 3*time.Millisecond), "the median wait of a lone record (all: %v)", lat)
	})
})

// seqFilter is the filter of -seq lo-hi.
func seqFilter(m probe.Mode, id *connector.ID, lo, hi uint32) probe.Filter {
	return probe.Filter{Mode: m, ID: id, Seqs: &probe.SeqRange{Lo: lo, Hi: hi}}
}
