package e2e

import (
	"context"
	"errors"
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
		const period = 20 * time.Millisecond
		listener := dial(&connector.Config{Groups: []uint32{groupB}})
		c := ctl()
		Expect(c.TimerStart(timeout(replyTimeout), groupB, period)).To(Succeed())
		// Should the stop below fail, or not stop, the timer must not
		// broadcast into the specs that follow.
		DeferCleanup(func() { Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed()) })
		_, _, err := listener.Receive(timeout(replyTimeout))
		Expect(err).NotTo(HaveOccurred(), "a first broadcast")
		Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed())
		stopped := stats().TimerTicks
		// What was queued before the stop: a running timer would keep
		// this from ever going quiet, so it is bounded.
		_, quietened := receiveFor(listener, 2*time.Second)
		Expect(quietened).To(BeTrue(), "broadcasts still arriving 2s after timer-stop")
		msgs, quietened := receiveFor(listener, time.Second)
		Expect(quietened).To(BeTrue())
		Expect(msgs).To(BeEmpty(), "broadcasts after timer-stop")
		Expect(stats().TimerTicks-stopped).To(BeZero(), "timer ticks after timer-stop")
	})
})

// receiveFor reads c until nothing arrives for quiet, or for at most d. It
// returns what arrived, and whether it went quiet.
func receiveFor(c *connector.Conn, d time.Duration) ([]connector.Message, bool) {
	GinkgoHelper()
	var msgs []connector.Message
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		ctx, cancel := context.WithTimeout(context.Background(), min(quiet, time.Until(end)))
		m, _, err := c.Receive(ctx)
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			if time.Now().Before(end) {
				return msgs, true
			}
		case err != nil:
			Fail("receive: " + err.Error())
		default:
			msgs = append(msgs, m)
		}
	}
	return msgs, false
}
