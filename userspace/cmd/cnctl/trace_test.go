package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/probe"
)

// fakeTracer plays the probes: it returns its records in order, then
// waits out each read's deadline.
type fakeTracer struct {
	records []any
	closed  bool
}

func (f *fakeTracer) Read(deadline time.Time) (any, error) {
	if len(f.records) > 0 {
		r := f.records[0]
		f.records = f.records[1:]
		return r, nil
	}
	time.Sleep(time.Until(deadline))
	return nil, probe.ErrTimeout
}

func (f *fakeTracer) Skips() (probe.Skips, error) { return probe.Skips{RingBuffer: 1}, nil }

func (f *fakeTracer) Counters() (map[connector.ID]probe.Counters, error) {
	return map[connector.ID]probe.Counters{
		{Idx: 14, Val: 0x4c1}: {Sent: 3, Failed: 1, ByErrno: map[syscall.Errno]uint64{0: 2, syscall.ESRCH: 1}, Dropped: 1},
	}, nil
}

func (f *fakeTracer) Close() error { f.closed = true; return nil }

// traceRecords are a send that a full queue dropped and a message from
// user space.
func traceRecords() []any {
	return []any{
		&probe.Record{ID: connector.ID{Idx: 14, Val: 0x4c1}, Seq: 7, Len: 16, Time: 5 * time.Second, Group: 21, Dropped: 1, LossesOnly: true,
			Receivers: []probe.Receiver{{PortID: 99, Outcome: probe.QueueFull, RcvBuf: 4096, RmemAlloc: 4000}}},
		&probe.Inbound{ID: connector.ID{Idx: 14, Val: 0x456}, Seq: 1, Len: 8, Time: 6 * time.Second, PortID: 99, NlmsgPid: 99},
	}
}

// TestTraceTimeoutInSeconds: -timeout takes seconds, as every other
// command's time flags do, or a duration.
func TestTraceTimeoutInSeconds(t *testing.T) {
	for _, v := range []string{"0.2", "200ms"} {
		t.Run(v, func(t *testing.T) {
			start := time.Now()
			code, out, errOut := cnctlTrace(t, t.Context(), nil, &fakeTracer{}, "trace", "-timeout", v)
			if code != 0 || time.Since(start) > 3*time.Second {
				t.Fatalf("exit %d after %v\nstdout %q\nstderr %q", code, time.Since(start), out, errOut)
			}
		})
	}
}

// TestTraceOutput: what trace prints goes to the command's output, the
// records, the summary and the kernel's counts alike, and the probes are
// closed.
func TestTraceOutput(t *testing.T) {
	tr := &fakeTracer{records: traceRecords()}
	code, out, errOut := cnctlTrace(t, t.Context(), nil, tr, "trace", "-c", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"tracing connector messages", "seq 7", "<- port 99", "--- 2 records, 1 not recorded",
		"every send, counted in the kernel", "14:0x4c1  sent 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !tr.closed {
		t.Error("the probes were not closed")
	}
}
