package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

var _ = Describe("The timer broadcast", Label("timer"), func() {
	var l *ledger
	withLedger(&l)

	It("arrives with seqs one apart, sent at the set period", func() {
		const period = 100 * time.Millisecond
		listener := dial(&connector.Config{Groups: []uint32{groupA}})
		c := ctl()
		Expect(c.TimerStart(timeout(replyTimeout), groupA, period)).To(Succeed())
		DeferCleanup(func() { Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed()) })

		var msgs []connector.Message
		for len(msgs) < 10 {
			m, _, err := listener.Receive(timeout(10 * period))
			Expect(err).NotTo(HaveOccurred(), "waiting for timer broadcast %d", len(msgs)+1)
			msgs = append(msgs, m)
		}
		var sent []uint64
		for i, m := range msgs {
			b, err := control.ParseBcast(m.Data)
			Expect(err).NotTo(HaveOccurred())
			Expect(b.Kind).To(Equal(uint32(wire.BcastTimer)))
			sent = append(sent, b.Ktime)
			if i > 0 {
				Expect(m.Seq).To(Equal(msgs[i-1].Seq+1), "seq of broadcast %d", i+1)
			}
		}
		// The kernel's own send times: the timer re-arms itself a period
		// after each send, on a jiffy (at most 10ms at HZ=100).
		for i := 1; i < len(sent); i++ {
			Expect(time.Duration(sent[i]-sent[i-1])).To(BeNumerically(">=", period-10*time.Millisecond), "interval %d", i)
		}
		mean := time.Duration(sent[len(sent)-1]-sent[0]) / time.Duration(len(sent)-1)
		Expect(mean).To(BeNumerically("<", 2*period), "mean interval")
		// Stopped here, not only in cleanup, which runs after the ledger's
		// check: that check wants the module quiet.
		Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed())
	})

	It("stops: nothing arrives after timer-stop", func() {
		listener := dial(&connector.Config{Groups: []uint32{groupB}})
		c := ctl()
		Expect(c.TimerStart(timeout(replyTimeout), groupB, 20*time.Millisecond)).To(Succeed())
		_, _, err := listener.Receive(timeout(replyTimeout))
		Expect(err).NotTo(HaveOccurred(), "a first broadcast")
		Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed())
		receiveAll(listener) // what was queued before the stop
		msgs, _ := receiveAll(listener)
		Expect(msgs).To(BeEmpty())
	})
})
