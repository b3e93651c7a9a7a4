package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/proc"
)

// What cn_filter does for a socket that sent IGNORE while another socket
// still listens, read from a raw socket (the proc client filters by
// itself too, which would hide the kernel's part).
var _ = Describe("The process events connector's IGNORE", Label("proc"), func() {
	It("stops the events to the socket that sent it while another still listens (the kernel filters from 6.6)", func() {
		if !kernelAtLeast(6, 6) {
			Skip("before 6.6 an IGNORE takes the count of listeners down for every socket: no per-socket filter to check")
		}
		lockThread()
		stays := procListen(proc.All, 0)
		leaves := dial(&connector.Config{Groups: []uint32{proc.Group}})
		Expect(leaves.Send(&connector.Message{ID: proc.ID, Data: proc.EncodeOp(proc.OpListen)})).To(Succeed())
		Expect(leaves.Send(&connector.Message{ID: proc.ID, Data: proc.EncodeOp(proc.OpIgnore)})).To(Succeed())
		pid, tid := forkChild(childExit, 0, 0)
		DeferCleanup(reap, pid)
		log := receiveEvents(stays, has(proc.Exit, pid))
		Expect(log.of(pid)).To(Equal([]proc.Event{forkEvent(pid, tid), exitEvent(pid, tid, 0)}), "events to the listener:\n%s", log)
		for {
			m, _, err := leaves.Receive(timeout(replyTimeout))
			if err != nil {
				break // nothing more: the socket that sent IGNORE got none of the child's events
			}
			e, err := proc.Decode(m)
			Expect(err).NotTo(HaveOccurred())
			Expect(e.What == proc.None || (int(e.PID) != pid && int(e.TGID) != pid)).To(BeTrue(), "the socket that sent IGNORE got %+v", e)
		}
	})
})
