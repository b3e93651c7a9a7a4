package e2e

import (
	"context"
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

	It("routes each id to its own callback, and leaves an unregistered id unanswered", func() {
		register(idA)
		register(idB)
		for _, id := range []connector.ID{idA, idB} {
			reply, err := conn.Request(timeout(replyTimeout), &connector.Message{ID: id, Data: []byte(id.String())})
			Expect(err).NotTo(HaveOccurred(), "request to %s", id)
			Expect(reply.ID).To(Equal(id))
			Expect(string(reply.Data)).To(Equal(id.String()))
		}
		_, err := conn.Request(timeout(quiet), &connector.Message{ID: idC})
		Expect(err).To(MatchError(context.DeadlineExceeded), "no callback has %s", idC)
	})

	It("stops answering an id once it is unregistered", func() {
		register(idA)
		Expect(c.Unregister(timeout(replyTimeout), idA)).To(Succeed())
		_, err := conn.Request(timeout(quiet), &connector.Message{ID: idA})
		Expect(err).To(MatchError(context.DeadlineExceeded))
	})

	It("refuses to register an id twice, or one cnlab already has", func() {
		register(idA)
		Expect(c.Register(timeout(replyTimeout), idA)).To(MatchError(syscall.EEXIST))
		Expect(c.Register(timeout(replyTimeout), echoID)).To(MatchError(syscall.EINVAL))
	})

	It("notifies registration and unregistration on the notification group", func() {
		listener := dial(&connector.Config{Groups: []uint32{wire.NotifyGroup}})
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
	})
})
