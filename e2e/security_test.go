package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

// refusedID is the id the unprivileged register tries to take.
var refusedID = connector.ID{Idx: wire.Idx, Val: 0x910}

var cnctlPath = flag.String("cnlab.cnctl", "/bin/cnctl", "cnctl, run as an unprivileged user by the security specs")

// asNobody runs cnctl as uid and gid 65534, without capabilities.
func asNobody(args ...string) (string, int) {
	GinkgoHelper()
	if _, err := os.Stat(*cnctlPath); err != nil {
		Fail("the security specs run cnctl as another user: " + err.Error() + " (pass -cnlab.cnctl)")
	}
	cmd := exec.Command(*cnctlPath, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if exitErr, ok := err.(*exec.ExitError); ok {
		return string(out), exitErr.ExitCode()
	}
	Expect(err).NotTo(HaveOccurred(), "run %s as nobody: %s", *cnctlPath, out)
	return string(out), 0
}

var _ = Describe("Without CAP_NET_ADMIN", Label("security"), func() {
	var l *ledger
	withLedger(&l)

	// Each refused operation must leave the module as it was: what the
	// entry's check looks at after the refusal.
	DescribeTable("state-changing control operations are refused, and counted, and change nothing",
		func(op uint32, args []string, unchanged func(before control.Stats)) {
			c := ctl()
			// Should the refusal fail, undo what the operation did, so
			// that later specs do not inherit it.
			DeferCleanup(func() {
				Expect(c.TimerStop(timeout(replyTimeout))).To(Succeed())
				Expect(c.SetEchoMode(timeout(replyTimeout), control.EchoNormal, 0, 0)).To(Succeed())
				if err := c.Unregister(timeout(replyTimeout), refusedID); err != nil {
					Expect(err).To(MatchError(syscall.ENOENT))
				}
			})
			before := stats()
			out, code := asNobody(append([]string{"ctl"}, args...)...)
			Expect(code).To(Equal(1), out)
			// The module's own refusal, for this operation: not cnctl's
			// help, nor another error.
			Expect(out).To(ContainSubstring(fmt.Sprintf("op %d: refused: operation not permitted", op)))
			Expect(stats().CtlRefused - before.CtlRefused).To(Equal(uint64(1)))
			unchanged(before)
		},
		Entry("timer-start", uint32(wire.OpTimerStart), []string{"timer-start", "-g", "20", "-period", "10ms"}, func(before control.Stats) {
			time.Sleep(quiet) // 30 periods
			Expect(stats().TimerTicks-before.TimerTicks).To(BeZero(), "timer ticks after a refused timer-start")
		}),
		Entry("burst", uint32(wire.OpBurst), []string{"burst", "-g", "20", "-n", "1"}, func(before control.Stats) {
			Expect(stats().Dests[20].Sent-before.Dests[20].Sent).To(BeZero(), "broadcasts to group 20 after a refused burst")
		}),
		Entry("register", uint32(wire.OpRegister), []string{"register", "-id", refusedID.String()}, func(before control.Stats) {
			_, err := dial(nil).Request(timeout(quiet), &connector.Message{ID: refusedID, Data: []byte("x")})
			Expect(err).To(MatchError(context.DeadlineExceeded), "an answer from %s after a refused register", refusedID)
			Expect(stats().Notifications-before.Notifications).To(BeZero(), "notifications after a refused register")
			Expect(ctl().Unregister(timeout(replyTimeout), refusedID)).To(MatchError(syscall.ENOENT), "%s registered after a refused register", refusedID)
		}),
		Entry("echo-mode", uint32(wire.OpEchoMode), []string{"echo-mode", "-mode", "none", "-count", "5"}, func(control.Stats) {
			reply, err := dial(nil).Request(timeout(replyTimeout), &connector.Message{ID: echoID, Data: []byte("still echoes")})
			l.sent.Add(1)
			Expect(err).NotTo(HaveOccurred(), "the echo after a refused echo-mode none")
			l.replies.Add(1)
			Expect(string(reply.Data)).To(Equal("still echoes"))
		}),
	)

	It("can still read the counters and use the echo", func() {
		out, code := asNobody("ctl", "stats")
		Expect(code).To(BeZero(), out)
		before := stats()
		out, code = asNobody("ping", "-c", "3", "-i", "10ms", "-q")
		Expect(code).To(BeZero(), out)
		Expect(out).To(ContainSubstring("3 received, 0% loss"))
		l.sent.Add(3)
		l.replies.Add(3)
		Expect(stats().Received - before.Received).To(Equal(uint64(3)))
	})

	It("cannot join a connector group", func() {
		out, code := asNobody("listen", "-g", "20", "-timeout", "100ms")
		Expect(code).To(Equal(1), out)
		// The kernel's refusal of the join itself: "CAP_NET_ADMIN" alone
		// is also in -force's help.
		Expect(out).To(MatchRegexp(`join group 20: .*operation not permitted`))
	})
})
