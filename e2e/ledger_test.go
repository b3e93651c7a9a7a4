package e2e

import (
	"context"
	"sync/atomic"

	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
)

// ledger is what a spec's clients did, to be checked against the module's
// counters when the spec ends.
type ledger struct {
	before  control.Stats
	sent    atomic.Uint64 // valid echo requests the kernel took
	invalid atomic.Uint64 // malformed messages sent to the echo id
	replies atomic.Uint64 // replies matched by the clients
	// unicastLost are unicasts of the module the spec expects to fail:
	// every other one must get through, echo replies first of all.
	unicastLost atomic.Uint64
}

func stats() control.Stats {
	c, err := connector.Dial(nil)
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
	defer cancel()
	st, err := (&control.Client{Conn: c, ID: ctlID}).Stats(ctx)
	Expect(err).NotTo(HaveOccurred(), "read the module's counters")
	return st
}

func newLedger() *ledger { return &ledger{before: stats()} }

// check compares the module's counters, since the ledger was opened, with
// what the clients saw.
func (l *ledger) check() {
	after := stats()
	Expect(after.Received-l.before.Received).To(Equal(l.sent.Load()+l.invalid.Load()),
		"messages the echo callback received vs. messages the clients sent to it")
	Expect(after.Invalid-l.before.Invalid).To(Equal(l.invalid.Load()),
		"messages the module counted invalid vs. malformed messages the clients sent")
	Expect(after.Replied-l.before.Replied).To(Equal(l.replies.Load()),
		"replies the module sent vs. replies the clients matched")
	u, u0 := after.Dests[0], l.before.Dests[0]
	Expect((u.Sent-u.Ok)-(u0.Sent-u0.Ok)).To(Equal(l.unicastLost.Load()),
		"unicasts of the module that failed (EAGAIN %d, ECONNREFUSED %d, ENOMEM %d, other %d) vs. those the spec expected to fail",
		u.Eagain-u0.Eagain, u.Econnrefused-u0.Econnrefused, u.Enomem-u0.Enomem, u.Other-u0.Other)
}
