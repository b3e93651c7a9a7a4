package e2e

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

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
	p, err := probe.Start(probe.Filter{ID: &id})
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
