package e2e

import (
	"context"
	"encoding/binary"
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
	// Of cnlab's idx too: the witness accounts for the module's sends of
	// that idx only.
	idD := connector.ID{Idx: wire.Idx, Val: 0x903}

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
		Expect(after.ExtraReceived-before.ExtraReceived).To(Equal(uint64(5)), "requests the extra ids' callback received")
		// Not the echo id's: the ledger checks that its counters did
		// not move.
	})

	It("stops answering an id once it is unregistered, and only that id", func() {
		register(idA)
		register(idB)
		before := stats().ExtraReceived
		Expect(c.Unregister(timeout(replyTimeout), idA)).To(Succeed())
		unanswered(idA)
		request(idB, "B stays")
		Expect(stats().ExtraReceived-before).To(Equal(uint64(1)), "only B's request reached a callback")
		Expect(c.Unregister(timeout(replyTimeout), idA)).To(MatchError(syscall.ENOENT), "unregister twice")
		Expect(c.Unregister(timeout(replyTimeout), idB)).To(Succeed())
		unanswered(idB)
	})

	// Label slots: the specs of the per-slot counters (struct
	// cnlab_extra_stats), which "-labels 'ids && !slots'" leaves out.
	It("counts each id's messages under its own slot, and answers each from the id addressed", Label("slots"), func() {
		before := stats()
		ids := []connector.ID{idA, idB, idC, idD}
		// A distinct number of messages for each id, invalid ones
		// included, so that counts swapped between slots show.
		valid := map[connector.ID]int{idA: 3, idB: 6, idC: 1, idD: 4}
		invalid := map[connector.ID]int{idA: 0, idB: 2, idC: 1, idD: 0}
		nValid, nInvalid := 0, 0
		for _, id := range ids {
			nValid += valid[id]
			nInvalid += invalid[id]
		}
		// Registering takes the lowest free slots, in order.
		want := slotLines(before.Extra[:])
		slots := map[connector.ID]int{}
		for i, e := range before.Extra {
			if e.Used == 0 && len(slots) < len(ids) {
				id := ids[len(slots)]
				slots[id] = i
				want[i] = slotLine(i, wire.ExtraStats{Idx: id.Idx, Val: id.Val, Used: 1,
					Received: uint64(valid[id] + invalid[id]), Invalid: uint64(invalid[id])})
			}
		}
		Expect(slots).To(HaveLen(len(ids)), "free slots before the spec: %v", slotLines(before.Extra[:]))
		for _, id := range ids {
			register(id)
		}

		// Round robin over the ids, each request with a seq of its own.
		sent := map[uint32]connector.Message{}
		seq := uint32(1000)
		for round := 0; len(sent) < nValid; round++ {
			for _, id := range ids {
				if round >= valid[id] {
					continue
				}
				m := connector.Message{ID: id, Seq: seq, Data: []byte(fmt.Sprintf("%s #%d", id, round))}
				Expect(conn.Send(&m)).To(Succeed())
				sent[seq] = m
				seq++
			}
		}
		for _, id := range ids {
			for range invalid[id] {
				sendInvalid(conn, id)
			}
		}

		// Each valid request has one reply, from the id it went to.
		msgs, overruns := receiveAll(conn)
		Expect(overruns).To(BeZero())
		got := map[uint32]bool{}
		for _, r := range msgs {
			req, ok := sent[r.Seq]
			Expect(ok).To(BeTrue(), "a message with no request of that seq: %+v", r)
			Expect(got[r.Seq]).To(BeFalse(), "a second reply to %s seq %d", req.ID, r.Seq)
			got[r.Seq] = true
			Expect(r.ID).To(Equal(req.ID), "the reply to a request to %s (seq %d) comes from %s", req.ID, r.Seq, r.ID)
			Expect(r.Ack).To(Equal(r.Seq+1), "the reply to %s seq %d", req.ID, r.Seq)
			Expect(string(r.Data)).To(Equal(string(req.Data)), "the reply to %s seq %d", req.ID, r.Seq)
		}
		Expect(got).To(HaveLen(len(sent)), "replies to the %d valid requests", len(sent))

		after := stats()
		Expect(slotLines(after.Extra[:])).To(Equal(want), "each further id's slot: its id, and the messages sent to it (invalid ones included), which its callback must have counted there")
		Expect(after.ExtraReceived-before.ExtraReceived).To(Equal(uint64(nValid+nInvalid)), "messages the further ids' callback received, all slots together")
		Expect(after.ExtraInvalid-before.ExtraInvalid).To(Equal(uint64(nInvalid)), "invalid messages the further ids' callback received, all slots together")
	})

	It("keeps an unregistered id's counts in its slot until another id takes it, which counts from zero", Label("slots"), func() {
		register(idA)
		register(idB)
		st := stats()
		slotOf := func(st *control.Stats, id connector.ID) int {
			GinkgoHelper()
			for i, e := range st.Extra {
				if e.Used != 0 && e.Idx == id.Idx && e.Val == id.Val {
					return i
				}
			}
			Fail(fmt.Sprintf("no slot holds %s: %v", id, slotLines(st.Extra[:])))
			return -1
		}
		b := slotOf(&st, idB)
		for i := range 3 {
			request(idB, fmt.Sprintf("B #%d", i))
		}
		Expect(c.Unregister(timeout(replyTimeout), idB)).To(Succeed())
		st = stats()
		Expect(slotLine(b, st.Extra[b])).To(Equal(slotLine(b, wire.ExtraStats{Idx: idB.Idx, Val: idB.Val, Received: 3})),
			"%s's slot once it is unregistered", idB)

		// The lowest free slot is B's, unless one below it is free too.
		register(idC)
		st = stats()
		cs := slotOf(&st, idC)
		Expect(cs).To(BeNumerically("<=", b), "%s takes the lowest free slot", idC)
		Expect(slotLine(cs, st.Extra[cs])).To(Equal(slotLine(cs, wire.ExtraStats{Idx: idC.Idx, Val: idC.Val, Used: 1})),
			"%s's slot, new", idC)
		request(idC, "C #0")
		request(idA, "A #0")
		st = stats()
		Expect(slotLine(cs, st.Extra[cs])).To(Equal(slotLine(cs, wire.ExtraStats{Idx: idC.Idx, Val: idC.Val, Used: 1, Received: 1})),
			"%s's slot after one request", idC)
	})

	It("refuses to register an id twice, or one cnlab already has", func() {
		register(idA)
		Expect(c.Register(timeout(replyTimeout), idA)).To(MatchError(syscall.EEXIST))
		Expect(c.Register(timeout(replyTimeout), echoID)).To(MatchError(syscall.EINVAL))
		Expect(c.Register(timeout(replyTimeout), ctlID)).To(MatchError(syscall.EINVAL))
	})

	It("refuses a further id with ENOSPC once every slot is taken, changing nothing, and takes one again once a slot is free", func() {
		listener := dial(&connector.Config{Groups: []uint32{wire.NotifyGroup}})
		before := stats()
		// Every free slot, each with an id of its own.
		var ids []connector.ID
		for i, e := range before.Extra {
			if e.Used == 0 {
				ids = append(ids, connector.ID{Idx: wire.Idx, Val: 0x930 + uint32(i)})
			}
		}
		Expect(ids).NotTo(BeEmpty(), "free slots before the spec: %v", slotLines(before.Extra[:]))
		for _, id := range ids {
			register(id)
		}
		full := stats()
		for i, e := range full.Extra {
			Expect(e.Used).To(Equal(uint32(1)), "slot %d once %d ids took the free slots: %v", i, len(ids), slotLines(full.Extra[:]))
		}
		msgs, _ := receiveAll(listener)
		Expect(msgs).To(HaveLen(len(ids)), "a notification for each id registered")

		over := connector.ID{Idx: wire.Idx, Val: 0x92f}
		Expect(c.Register(timeout(replyTimeout), over)).To(MatchError(syscall.ENOSPC), "a %dth further id", wire.MaxExtraIDs+1)
		after := stats()
		Expect(slotLines(after.Extra[:])).To(Equal(slotLines(full.Extra[:])), "the slots after the refused REGISTER")
		Expect(after.Notifications).To(Equal(full.Notifications), "notifications counted for the refused id")
		Expect(after.Allocs-after.Frees).To(Equal(full.Allocs-full.Frees), "the module's allocations outstanding")
		msgs, _ = receiveAll(listener)
		Expect(msgs).To(BeEmpty(), "notifications of the refused id")
		unanswered(over)
		request(ids[len(ids)-1], "the last id still answers")

		// A slot freed takes an id again: the lowest, which is the first
		// id's.
		Expect(c.Unregister(timeout(replyTimeout), ids[0])).To(Succeed())
		register(over)
		request(over, "registered once a slot is free")
		st := stats()
		var used int
		for _, e := range st.Extra {
			used += int(e.Used)
		}
		Expect(used).To(Equal(wire.MaxExtraIDs), "slots used")
		Expect(c.Register(timeout(replyTimeout), ids[0])).To(MatchError(syscall.ENOSPC), "full again")

		// Unregistered, every id goes, and with them the callbacks.
		for _, id := range append(ids[1:], over) {
			Expect(c.Unregister(timeout(replyTimeout), id)).To(Succeed(), "unregister %s", id)
		}
		st = stats()
		for i, e := range st.Extra {
			Expect(e.Used).To(Equal(before.Extra[i].Used), "slot %d after every id of the spec went: %v", i, slotLines(st.Extra[:]))
		}
		Expect(cnlabCallbacks()).To(Equal(map[connector.ID]string{echoID: "cnlab_echo", ctlID: "cnlab_ctl"}), "cnlab's callbacks, as /proc/net/connector lists them")
		unanswered(ids[len(ids)-1])
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

// slotLine says what a further id's slot holds, as struct cnlab_extra_stats
// has it, on one line.
func slotLine(i int, e wire.ExtraStats) string {
	return fmt.Sprintf("slot %d: %s used %d received %d invalid %d reserved %d",
		i, connector.ID{Idx: e.Idx, Val: e.Val}, e.Used, e.Received, e.Invalid, e.Reserved)
}

func slotLines(extra []wire.ExtraStats) []string {
	lines := make([]string, len(extra))
	for i, e := range extra {
		lines[i] = slotLine(i, e)
	}
	return lines
}

// sendInvalid sends id a message whose len claims 1 byte where 8 follow:
// the core passes it, and the callback must count it invalid and not answer.
func sendInvalid(c *connector.Conn, id connector.ID) {
	GinkgoHelper()
	bad := connector.Message{ID: id, Data: make([]byte, 8)}
	b, err := bad.MarshalBinary()
	Expect(err).NotTo(HaveOccurred())
	binary.NativeEndian.PutUint16(b[16:18], 1)
	Expect(c.SendRaw(b)).To(Succeed())
}
