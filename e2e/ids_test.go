package e2e

import (
	"context"
	"fmt"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

var _ = Describe("Several ids", Label("ids"), func() {
	var (
		l    *ledger
		c    *control.Client
		conn *connector.Conn
	)
	withLedger(&l)
	idA := connector.ID{Idx: wire.Idx, Val: 0x900}
	idB := connector.ID{Idx: wire.Idx, Val: 0x901}
	idC := connector.ID{Idx: wire.Idx, Val: 0x902}

	BeforeEach(func() {
		c = ctl()
		conn = dial(nil)
	})

	register := func(id connector.ID) {
		GinkgoHelper()
		Expect(c.Register(timeout(replyTimeout), id)).To(Succeed())
		DeferCleanup(func() {
			err := c.Unregister(timeout(replyTimeout), id)
			if err != nil {
				Expect(err).To(MatchError(syscall.ENOENT)) // the spec unregistered it
			}
		})
	}

	// request sends one request to id and expects its echo, from id.
	request := func(id connector.ID, data string) {
		GinkgoHelper()
		reply, err := conn.Request(timeout(replyTimeout), &connector.Message{ID: id, Data: []byte(data)})
		Expect(err).NotTo(HaveOccurred(), "request to %s", id)
		Expect(reply.ID).To(Equal(id))
		Expect(reply.Ack).To(Equal(reply.Seq + 1))
		Expect(string(reply.Data)).To(Equal(data))
	}
	// unanswered expects no answer from id.
	unanswered := func(id connector.ID) {
		GinkgoHelper()
		_, err := conn.Request(timeout(quiet), &connector.Message{ID: id, Data: []byte("anyone?")})
		Expect(err).To(MatchError(context.DeadlineExceeded), "an answer from %s", id)
	}

	It("routes each id to its own callback, counts what they get, and leaves an unregistered id unanswered", func() {
		before := stats()
		register(idA)
		register(idB)
		for i, id := range []connector.ID{idA, idB, idA, idB, idB} {
			request(id, fmt.Sprintf("%s #%d", id, i))
		}
		unanswered(idC)
		after := stats()
		Expect(after.Extra_received-before.Extra_received).To(Equal(uint64(5)), "requests the extra ids' callback received")
		// Not the echo id's: the ledger checks that its counters did
		// not move.
	})

	It("stops answering an id once it is unregistered, and only that id", func() {
		register(idA)
		register(idB)
		before := stats().Extra_received
		Expect(c.Unregister(timeout(replyTimeout), idA)).To(Succeed())
		unanswered(idA)
		request(idB, "B stays")
		Expect(stats().Extra_received-before).To(Equal(uint64(1)), "only B's request reached a callback")
		Expect(c.Unregister(timeout(replyTimeout), idA)).To(MatchError(syscall.ENOENT), "unregister twice")
		Expect(c.Unregister(timeout(replyTimeout), idB)).To(Succeed())
		unanswered(idB)
	})

	It("refuses to register an id twice, or one cnlab already has", func() {
		register(idA)
		Expect(c.Register(timeout(replyTimeout), idA)).To(MatchError(syscall.EEXIST))
		Expect(c.Register(timeout(replyTimeout), echoID)).To(MatchError(syscall.EINVAL))
		Expect(c.Register(timeout(replyTimeout), ctlID)).To(MatchError(syscall.EINVAL))
	})

	It("notifies registration and unregistration on the notification group", func() {
		listener := dial(&connector.Config{Groups: []uint32{wire.NotifyGroup}})
		before := stats().Notifications
		Expect(c.Register(timeout(replyTimeout), idB)).To(Succeed())
		Expect(c.Unregister(timeout(replyTimeout), idB)).To(Succeed())
		msgs, _ := receiveAll(listener)
		Expect(msgs).To(HaveLen(2))
		for i, on := range []uint32{1, 0} {
			Expect(msgs[i].ID).To(Equal(connector.ID{Idx: wire.Idx, Val: wire.NotifyVal}))
			n, err := control.ParseNotify(msgs[i].Data)
			Expect(err).NotTo(HaveOccurred())
			Expect(connector.ID{Idx: n.Idx, Val: n.Val}).To(Equal(idB))
			Expect(n.On).To(Equal(on))
		}
		Expect(msgs[1].Seq).To(Equal(msgs[0].Seq + 1))
		Expect(stats().Notifications - before).To(Equal(uint64(2)))
	})
})
