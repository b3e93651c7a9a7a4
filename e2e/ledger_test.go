package e2e

import (
	"context"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
)

// ledger is what a spec's clients did, to be checked against the module's
// counters when the spec ends.
type ledger struct {
	before  control.Stats
	seq     uint32        // of the reading before, which marks it for the probes
	lost    uint64        // probe events lost before
	sent    atomic.Uint64 // valid echo requests the kernel took
	invalid atomic.Uint64 // malformed messages sent to the echo id
	replies atomic.Uint64 // replies matched by the clients
	// unicastLost are unicasts of the module the spec expects to fail:
	// every other one must get through, echo replies first of all.
	unicastLost atomic.Uint64
}

func stats() control.Stats {
	GinkgoHelper()
	st, _ := readStats()
	return st
}

// readStats reads the module's counters from the suite's statistics socket,
// which stays open so that no other socket takes its port, and returns the
// request's seq: the probes' record of the reply marks the reading.
func readStats() (control.Stats, uint32) {
	GinkgoHelper()
	statsMu.Lock()
	defer statsMu.Unlock()
	if statsConn == nil {
		c, err := connector.Dial(nil)
		Expect(err).NotTo(HaveOccurred())
		c.Observe(func(m connector.Message, _ connector.Source) {
			if m.ID == ctlID {
				statsSeq = m.Seq
			}
		})
		statsConn = c
	}
	ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
	defer cancel()
	st, err := (&control.Client{Conn: statsConn, ID: ctlID}).Stats(ctx)
	Expect(err).NotTo(HaveOccurred(), "read the module's counters")
	return st, statsSeq
}

var (
	statsMu   sync.Mutex
	statsConn *connector.Conn
	statsSeq  uint32 // of the last reply statsConn received
)

func newLedger() *ledger {
	GinkgoHelper()
	forgetWatched()
	l := &ledger{lost: suiteWitness.lost()}
	l.before, l.seq = readStats()
	return l
}

// check compares the module's counters, since the ledger was opened, with
// what the clients saw.
// Then it checks the probes' account against both (witness_test.go).
func (l *ledger) check() {
	GinkgoHelper()
	drainWatched()
	after, seq := readStats()
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
	checkWitnesses(&l.before, &after, l.lost, suiteWitness.window(l.seq, seq))
}
