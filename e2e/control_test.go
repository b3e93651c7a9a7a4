package e2e

import (
	"encoding/binary"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/control/controltest"
	"github.com/cnlab/cnlab/userspace/wire"
)

// The agreement table (controltest.Cases) that go test runs on the fake
// module, run here on the module: the two must answer alike.
var _ = Describe("The control id", Label("control"), func() {
	var l *ledger
	withLedger(&l)

	BeforeEach(func() {
		if echoID != control.DefaultEchoID || ctlID != control.DefaultID {
			Skip("the table is written for the module's default ids")
		}
	})

	for _, tc := range controltest.Cases {
		It("answers "+tc.Name+" as the table and the model say", func() {
			Expect(tc.Predict()).To(Equal(tc.Want), "the model (control.Model) vs. the table")
			Expect(tc.Run(timeout(replyTimeout), ctl().Conn, ctlID)).To(Succeed(), "the module vs. the table")
			if tc.Want == 0 && tc.Request.Op == wire.OpBurst && binary.NativeEndian.Uint32(tc.Request.Args) == 0 {
				// A unicast burst to nobody's port: its sends fail.
				l.unicastLost.Add(uint64(binary.NativeEndian.Uint32(tc.Request.Args[8:])))
			}
		})
	}
})
