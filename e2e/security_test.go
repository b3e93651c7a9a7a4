package e2e

import (
	"flag"
	"os"
	"os/exec"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

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

	DescribeTable("state-changing control operations are refused, and counted",
		func(args ...string) {
			before := stats().Ctl_refused
			out, code := asNobody(append([]string{"ctl"}, args...)...)
			Expect(code).To(Equal(2), out)
			Expect(out).To(ContainSubstring("operation not permitted"))
			Expect(out).To(ContainSubstring("CAP_NET_ADMIN"))
			Expect(stats().Ctl_refused - before).To(Equal(uint64(1)))
		},
		Entry("timer-start", "timer-start", "-g", "20", "-period", "1s"),
		Entry("burst", "burst", "-g", "20", "-n", "1"),
		Entry("register", "register", "-id", "14:0x910"),
		Entry("echo-mode", "echo-mode", "-mode", "none", "-count", "5"),
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
		Expect(code).To(Equal(2), out)
		Expect(out).To(ContainSubstring("CAP_NET_ADMIN"))
	})
})
