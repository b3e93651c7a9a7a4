package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/seqgap"
	"github.com/cnlab/cnlab/userspace/wire"
)

// accountFor checks that what a listener received and what it can prove
// missing add up to the burst, and returns the missing count.
func accountFor(res wire.BurstResult, msgs []connector.Message) uint64 {
	GinkgoHelper()
	burst := seqgap.Range{First: res.Seq, Last: res.Seq + res.Count - 1}
	got := seqs(msgs)
	missing := seqgap.Missing(burst, got)
	var lost uint64
	for _, r := range missing {
		lost += r.Len()
	}
	Expect(uint64(len(got))+lost).To(Equal(burst.Len()), "received %d + missing %d vs. the burst", len(got), lost)

	// The gaps between received seqs are the missing seqs, but for any
	// before the first or after the last received one.
	var tr seqgap.Tracker[int]
	var gaps uint64
	for _, s := range got {
		if v, r := tr.Observe(0, s); v == seqgap.Gap {
			gaps += r.Len()
		}
	}
	var edges uint64
	if len(got) > 0 {
		edges = uint64(got[0]-burst.First) + uint64(burst.Last-got[len(got)-1])
	}
	Expect(gaps+edges).To(Equal(lost), "gaps in the received seqs vs. the missing seqs")
	return lost
}

var _ = Describe("A receive queue that overflows", Label("drops"), func() {
	var (
		l *ledger
		c *control.Client
	)
	withLedger(&l)
	BeforeEach(func() { c = ctl() })

	const n, size = 200, 1024

	It("loses broadcasts past a small receive buffer: ENOBUFS, seq gaps, and ESRCH counts that add up", func() {
		listener := dial(&connector.Config{Groups: []uint32{groupA}, ReadBuffer: 4096})
		before := stats().Dests[groupA]
		res, err := c.Burst(timeout(replyTimeout), wire.Burst{Group: groupA, Count: n, Size: size})
		Expect(err).NotTo(HaveOccurred())
		msgs, overruns := receiveAll(listener)
		Expect(overruns).To(BeNumerically(">=", 1), "the listener is told that it lost messages")
		Expect(len(msgs)).To(BeNumerically("<", n), "a %d-byte burst fits no 4 KiB buffer", n*size)
		lost := accountFor(res, msgs)

		after := stats().Dests[groupA]
		// One listener: a broadcast it took returns 0, one it overran
		// returns -ESRCH, as one nobody took.
		Expect(after.Ok - before.Ok).To(Equal(uint64(len(msgs))))
		Expect(after.Esrch - before.Esrch).To(Equal(lost))
		Expect(uint64(res.Failed)).To(Equal(lost))
	})

	It("loses unicasts past a small receive buffer: ENOBUFS, seq gaps, and EAGAIN counts that add up", func() {
		listener := dial(&connector.Config{ReadBuffer: 4096})
		before := stats().Dests[0]
		res, err := c.Burst(timeout(replyTimeout), wire.Burst{Portid: listener.PortID(), Count: n, Size: size})
		Expect(err).NotTo(HaveOccurred())
		msgs, overruns := receiveAll(listener)
		Expect(overruns).To(BeNumerically(">=", 1))
		lost := accountFor(res, msgs)
		Expect(lost).To(BeNumerically(">", 0))

		after := stats().Dests[0]
		// Every unicast of the module counts here: the control replies of
		// the stats calls too, which all got through.
		Expect(after.Eagain - before.Eagain).To(Equal(lost))
		Expect(uint64(res.Failed)).To(Equal(lost))
		l.unicastLost.Add(lost)
	})
})
