package e2e

import (
	"context"
	"errors"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
)

// quiet is how long a spec waits to be sure that nothing more arrives.
const quiet = 300 * time.Millisecond

// withLedger opens a ledger before each spec of the enclosing container and
// checks the module's counters against it after.
func withLedger(l **ledger) {
	BeforeEach(func() { *l = newLedger() })
	AfterEach(func() { (*l).check() })
}

// dial opens a connection that is closed when the spec ends, and whose
// receipts the witness accounts for.
func dial(cfg *connector.Config) *connector.Conn {
	GinkgoHelper()
	c, err := connector.Dial(cfg)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	watch(c)
	return c
}

// ctl returns a control client on a connection of its own.
func ctl() *control.Client {
	GinkgoHelper()
	return &control.Client{Conn: dial(nil), ID: ctlID}
}

// timeout returns a context that ends after d. It cleans up after itself,
// so that cleanup code can use it too.
func timeout(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	// Well after the deadline, so that the context ends by it and reports
	// context.DeadlineExceeded.
	time.AfterFunc(2*d+time.Second, cancel)
	return ctx
}

// receiveAll reads c until nothing arrives for quiet, and returns the
// messages and how many overruns (ENOBUFS) were reported.
func receiveAll(c *connector.Conn) (msgs []connector.Message, overruns int) {
	GinkgoHelper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		m, _, err := c.Receive(ctx)
		cancel()
		switch {
		case errors.Is(err, connector.ErrOverrun):
			overruns++
		case errors.Is(err, context.DeadlineExceeded):
			return msgs, overruns
		case err != nil:
			Fail("receive: " + err.Error())
		default:
			msgs = append(msgs, m)
		}
	}
}

// inParallel runs f(0) to f(n-1) at once, each in a goroutine of its own,
// waits for them all, and fails the spec with each error they returned.
func inParallel(n int, f func(w int) error) {
	GinkgoHelper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range n {
		wg.Add(1)
		go func() {
			defer GinkgoRecover()
			defer wg.Done()
			if err := f(w); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		Expect(err).NotTo(HaveOccurred())
	}
}

func msDuration(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
