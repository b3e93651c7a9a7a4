package e2e

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
)

// The seq and ack rules of Documentation/driver-api/connector.rst, one spec
// each, using the echo modes that make the module misbehave on purpose.
var _ = Describe("Message genealogy (connector.rst)", Label("genealogy"), func() {
	var (
		l    *ledger
		conn *connector.Conn
		c    *control.Client
	)
	withLedger(&l)
	BeforeEach(func() {
		conn = dial(nil)
		c = ctl()
	})

	setMode := func(mode control.EchoMode, delayMs int) {
		GinkgoHelper()
		Expect(c.SetEchoMode(timeout(replyTimeout), mode, 1, msDuration(delayMs))).To(Succeed())
		DeferCleanup(func() { Expect(c.SetEchoMode(timeout(replyTimeout), control.EchoNormal, 0, 0)).To(Succeed()) })
	}

	It("takes as the reply the message with the request's seq and ack = seq + 1", func() {
		req := &connector.Message{ID: echoID, Data: []byte("rule 1")}
		reply, err := conn.Request(timeout(replyTimeout), req)
		l.sent.Add(1)
		Expect(err).NotTo(HaveOccurred())
		l.replies.Add(1)
		Expect(reply.Seq).To(Equal(req.Seq))
		Expect(reply.Ack).To(Equal(req.Seq + 1))
	})

	It("treats a message with another seq as a new message, handed to Receive", func() {
		other := &connector.Message{ID: echoID, Seq: 7, Ack: 0, Data: []byte("unasked")}
		Expect(conn.Send(other)).To(Succeed())
		l.sent.Add(1)
		req := &connector.Message{ID: echoID, Data: []byte("asked")}
		reply, err := conn.Request(timeout(replyTimeout), req)
		l.sent.Add(1)
		Expect(err).NotTo(HaveOccurred())
		l.replies.Add(1)
		Expect(string(reply.Data)).To(Equal("asked"))

		m, _, err := conn.Receive(timeout(replyTimeout))
		Expect(err).NotTo(HaveOccurred(), "the echo of seq 7, set aside by Request")
		l.replies.Add(1)
		Expect(m.Seq).To(Equal(uint32(7)))
		Expect(string(m.Data)).To(Equal("unasked"))
	})

	It("applies an echo mode to the next requests it was set for only, then answers by the rule again", func() {
		const count, after = 3, 2
		Expect(c.SetEchoMode(timeout(replyTimeout), control.EchoWrongAck, count, 0)).To(Succeed())
		DeferCleanup(func() { Expect(c.SetEchoMode(timeout(replyTimeout), control.EchoNormal, 0, 0)).To(Succeed()) })
		for i := range uint32(count + after) {
			Expect(conn.Send(&connector.Message{ID: echoID, Seq: 300 + i, Data: []byte("mode")})).To(Succeed())
			l.sent.Add(1)
		}
		for i := range uint32(count + after) {
			m, _, err := conn.Receive(timeout(replyTimeout))
			Expect(err).NotTo(HaveOccurred(), "the echo of seq %d", 300+i)
			l.replies.Add(1)
			Expect(m.Seq).To(Equal(300+i), "the echoes in the order sent")
			if i < count {
				Expect(m.Ack).To(Equal(m.Seq+2), "request %d of the %d the wrong-ack mode was set for", i+1, count)
			} else {
				Expect(m.Ack).To(Equal(m.Seq+1), "request %d, after the mode's %d ran out", i+1, count)
			}
		}
	})

	It("treats the same seq with a wrong ack as a new message, not the reply", func() {
		setMode(control.EchoWrongAck, 0)
		req := &connector.Message{ID: echoID}
		_, err := conn.Request(timeout(quiet), req)
		l.sent.Add(1)
		Expect(err).To(MatchError(context.DeadlineExceeded))
		Expect(err.Error()).To(ContainSubstring("not a reply"))

		m, _, err := conn.Receive(timeout(replyTimeout))
		Expect(err).NotTo(HaveOccurred(), "the wrong-ack message is kept for Receive")
		l.replies.Add(1)
		Expect(m.Seq).To(Equal(req.Seq))
		Expect(m.Ack).To(Equal(req.Seq + 2))
	})

	It("hands a duplicate reply to Receive as a new message", func() {
		setMode(control.EchoTwice, 0)
		req := &connector.Message{ID: echoID}
		_, err := conn.Request(timeout(replyTimeout), req)
		l.sent.Add(1)
		Expect(err).NotTo(HaveOccurred())
		l.replies.Add(1)

		m, _, err := conn.Receive(timeout(replyTimeout))
		Expect(err).NotTo(HaveOccurred(), "the second copy of the reply")
		l.replies.Add(1)
		Expect(m.Seq).To(Equal(req.Seq))
		Expect(m.Ack).To(Equal(req.Seq + 1))
		expectNothingMore(conn)
	})

	It("hands a reply that comes after its request timed out to Receive, and matches the next request", func() {
		setMode(control.EchoDelay, 1500)
		late := &connector.Message{ID: echoID, Data: []byte("late")}
		_, err := conn.Request(timeout(quiet), late)
		l.sent.Add(1)
		Expect(err).To(MatchError(context.DeadlineExceeded))

		m, _, err := conn.Receive(timeout(5 * replyTimeout))
		Expect(err).NotTo(HaveOccurred(), "the late reply")
		l.replies.Add(1)
		Expect(m.Seq).To(Equal(late.Seq))
		Expect(string(m.Data)).To(Equal("late"))

		req := &connector.Message{ID: echoID, Data: []byte("next")}
		reply, err := conn.Request(timeout(replyTimeout), req)
		l.sent.Add(1)
		Expect(err).NotTo(HaveOccurred())
		l.replies.Add(1)
		Expect(string(reply.Data)).To(Equal("next"))
	})

	It("times out when no reply comes, and nothing arrives later", func() {
		setMode(control.EchoNone, 0)
		_, err := conn.Request(timeout(quiet), &connector.Message{ID: echoID})
		l.sent.Add(1)
		Expect(err).To(MatchError(context.DeadlineExceeded))
		_, _, err = conn.Receive(timeout(quiet))
		Expect(err).To(MatchError(context.DeadlineExceeded))
	})
})
