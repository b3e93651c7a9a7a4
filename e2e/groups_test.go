package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

// Groups used by the specs, away from the proc connector's (1) and cnlab's
// notifications.
const (
	groupA = 20
	groupB = 21
	groupC = 22
)

// seqs returns the seqs of the messages.
func seqs(msgs []connector.Message) []uint32 {
	out := make([]uint32, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// seqRange returns the n seqs from first.
func seqRange(first, n uint32) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = first + uint32(i)
	}
	return out
}

var _ = Describe("Multicast groups", Label("groups"), func() {
	var (
		l *ledger
		c *control.Client
	)
	withLedger(&l)
	BeforeEach(func() { c = ctl() })

	burst := func(group, n uint32) wire.BurstResult {
		GinkgoHelper()
		res, err := c.Burst(timeout(replyTimeout), wire.Burst{Group: group, Count: n, Size: wire.SizeofBcast})
		Expect(err).NotTo(HaveOccurred())
		return res
	}

	It("delivers a burst, in order, to each of two listeners on the group", func() {
		one := dial(&connector.Config{Groups: []uint32{groupA}})
		two := dial(&connector.Config{Groups: []uint32{groupA}})
		before := stats().Dests[groupA]
		res := burst(groupA, 10)
		Expect(res.Ok).To(Equal(uint32(10)))
		for _, listener := range []*connector.Conn{one, two} {
			msgs, overruns := receiveAll(listener)
			Expect(overruns).To(BeZero())
			Expect(seqs(msgs)).To(Equal(seqRange(res.Seq, 10)))
			for _, m := range msgs {
				Expect(m.ID).To(Equal(connector.ID{Idx: wire.Idx, Val: wire.BcastVal}))
			}
		}
		after := stats().Dests[groupA]
		Expect(after.Ok - before.Ok).To(Equal(uint64(10)))
	})

	It("sends nothing to a listener on another group", func() {
		on := dial(&connector.Config{Groups: []uint32{groupA}})
		other := dial(&connector.Config{Groups: []uint32{groupB}})
		before := stats()
		res := burst(groupA, 5)
		// The burst went out, to its group: a burst that sends nothing,
		// or sends it elsewhere, must not pass for one that keeps to
		// its group.
		Expect(res.Ok).To(Equal(uint32(5)))
		msgs, _ := receiveAll(on)
		Expect(seqs(msgs)).To(Equal(seqRange(res.Seq, 5)), "the burst on its own group")
		msgs, _ = receiveAll(other)
		Expect(msgs).To(BeEmpty())
		after := stats()
		Expect(after.Dests[groupA].Ok - before.Dests[groupA].Ok).To(Equal(uint64(5)))
		Expect(after.Dests[groupB].Sent - before.Dests[groupB].Sent).To(BeZero())
	})

	It("sends nothing to a listener that left the group", func() {
		stays := dial(&connector.Config{Groups: []uint32{groupA}})
		leaves := dial(&connector.Config{Groups: []uint32{groupA}})
		Expect(leaves.LeaveGroup(groupA)).To(Succeed())
		res := burst(groupA, 5)
		Expect(res.Ok).To(Equal(uint32(5)))
		msgs, _ := receiveAll(leaves)
		Expect(msgs).To(BeEmpty())
		msgs, _ = receiveAll(stays)
		Expect(seqs(msgs)).To(Equal(seqRange(res.Seq, 5)))
	})

	It("fails a broadcast nobody listens to with ESRCH, and counts it", func() {
		before := stats().Dests[groupC]
		res := burst(groupC, 4)
		Expect(res.Failed).To(Equal(uint32(4)))
		Expect(res.Ok).To(BeZero())
		after := stats().Dests[groupC]
		Expect(after.Esrch - before.Esrch).To(Equal(uint64(4)))
	})

	DescribeTable("refuses a group the connector does not have, with a clear error",
		func(group uint32) {
			conn := dial(nil)
			err := conn.JoinGroup(group)
			Expect(err).To(MatchError(connector.ErrNoSuchGroup))
			Expect(err.Error()).To(ContainSubstring("groups 1 to 26"))
		},
		Entry("group 0", uint32(0)),
		Entry("one past the last", uint32(connector.Groups+1)),
	)
})
