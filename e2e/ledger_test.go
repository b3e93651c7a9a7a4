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
	for i := range after.Send_errors {
		Expect(after.Send_errors[i]-l.before.Send_errors[i]).To(BeZero(),
			"sends that failed with errno %d", i)
	}
}
