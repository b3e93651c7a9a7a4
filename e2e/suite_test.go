package e2e

import (
	"context"
	"flag"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
)

var (
	echoIDFlag = flag.String("cnlab.echo-id", control.DefaultEchoID.String(), "the module's echo id, idx:val")
	ctlIDFlag  = flag.String("cnlab.ctl-id", control.DefaultID.String(), "the module's control id, idx:val")
	// preemptPressure makes the fork storm's spec run the pressure helper
	// (pressureHelper) beside the storm: on a preemptible kernel it shows
	// what the probes do when their programs are preempted.
	preemptPressure = flag.Bool("cnlab.preempt-pressure", false, "during the fork storm, keep on every CPU a lowest-priority thread preempted inside the probes' programs")

	echoID, ctlID connector.ID
)

// replyTimeout bounds each wait for a reply: generous, since guests run
// under emulation.
const replyTimeout = 5 * time.Second

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	// What a spec waits for with Eventually happens within milliseconds on
	// Debian's kernels, but a KASAN and lockdep kernel under TCG takes
	// seconds to start a program or a burst: Gomega's one second default
	// failed specs there that were not broken.
	SetDefaultEventuallyTimeout(replyTimeout)
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	// A label filter or focus that selects no spec is a failure, not a
	// green run that checked nothing.
	suiteConfig, reporterConfig := GinkgoConfiguration()
	suiteConfig.FailOnEmpty = true
	// The generic suite (target_test.go) tests a target's module, and
	// cnlab's specs cnlab's: with -cnlab.target only the generic suite
	// runs, without it only cnlab's, whatever the filter (the suites
	// share labels such as unload).
	suiteConfig.LabelFilter = suiteFilter(suiteConfig.LabelFilter, *targetFlag != "")
	RunSpecs(t, "cnlab e2e on "+unix.ByteSliceToString(uts.Release[:]), suiteConfig, reporterConfig)
}

var _ = BeforeSuite(func() {
	if *targetFlag != "" {
		// A target's module is loaded instead of cnlab's.
		loadTarget()
		return
	}
	var err error
	echoID, err = connector.ParseID(*echoIDFlag)
	Expect(err).NotTo(HaveOccurred(), "-cnlab.echo-id")
	ctlID, err = connector.ParseID(*ctlIDFlag)
	Expect(err).NotTo(HaveOccurred(), "-cnlab.ctl-id")

	c, err := connector.Dial(nil)
	Expect(err).NotTo(HaveOccurred(), "dial the connector: is CONFIG_CONNECTOR set?")
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
	defer cancel()
	_, err = (&control.Client{Conn: c, ID: ctlID}).Stats(ctx)
	Expect(err).NotTo(HaveOccurred(), "the cnlab module does not answer on its control id %s: is it loaded?", ctlID)
	startWitness()
})
