package connector

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// threads returns how many threads the process has.
func threads(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("cannot count threads: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no Threads line in /proc/self/status")
	return 0
}

// TestBlockedReceivesHoldNoThreads: a Receive that waits parks its
// goroutine, as one on a socket in the Go runtime's poller does; it does
// not keep an OS thread blocked in a system call. 50 of them, one on each
// of 50 Conns, leave the thread count about where it was.
func TestBlockedReceivesHoldNoThreads(t *testing.T) {
	const n = 50
	newPeer(t) // skips where there is no socket
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	before := threads(t)
	done := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		c := dialHost(t, nil)
		go func() {
			c.Receive(ctx)
			done <- struct{}{}
		}()
	}
	time.Sleep(300 * time.Millisecond) // let them wait
	during := threads(t)
	cancel()
	for i := 0; i < n; i++ {
		<-done
	}
	if during-before > 10 {
		t.Fatalf("%d threads with %d Receives waiting, %d before", during, n, before)
	}
	t.Logf("%d threads with %d Receives waiting, %d before", during, n, before)
}
