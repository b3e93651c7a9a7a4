package control_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/connector/cntest"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

// recorded runs f on a Client whose kernel keeps the data of every control
// request and answers each with status 0 and no result, and returns the
// data of the one request f must make.
func recorded(t *testing.T, f func(c *control.Client) error) []byte {
	t.Helper()
	var requests [][]byte
	k := cntest.New(func(_ uint32, m connector.Message) ([]connector.Message, error) {
		requests = append(requests, append([]byte(nil), m.Data...))
		reply := binary.NativeEndian.AppendUint32(nil, binary.NativeEndian.Uint32(m.Data)) // op
		reply = binary.NativeEndian.AppendUint32(reply, 0)                                 // status
		return []connector.Message{{ID: m.ID, Seq: m.Seq, Ack: m.Seq + 1, Data: reply}}, nil
	})
	conn, err := k.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := f(&control.Client{Conn: conn, ID: control.DefaultID}); err != nil {
		t.Fatal(err)
	}
	if len(requests) != 1 {
		t.Fatalf("%d requests, want 1", len(requests))
	}
	return requests[0]
}

// Durations reach the module in whole milliseconds; 1ms is the shortest
// period it takes.
func TestDurationsInMilliseconds(t *testing.T) {
	u32 := func(b []byte, off int) uint32 { return binary.NativeEndian.Uint32(b[off:]) }
	for _, tt := range []struct {
		period time.Duration
		ms     uint32
	}{{time.Millisecond, 1}, {2500 * time.Millisecond, 2500}} {
		req := recorded(t, func(c *control.Client) error { return c.TimerStart(t.Context(), 21, tt.period) })
		if u32(req, 0) != wire.OpTimerStart || u32(req, 8) != 21 || u32(req, 12) != tt.ms {
			t.Errorf("TimerStart(21, %v) sent %x, want group 21, period %d", tt.period, req, tt.ms)
		}
	}
	req := recorded(t, func(c *control.Client) error {
		return c.SetEchoMode(t.Context(), control.EchoDelay, 3, 1500*time.Millisecond)
	})
	if u32(req, 0) != wire.OpEchoMode || u32(req, 8) != uint32(control.EchoDelay) || u32(req, 12) != 3 || u32(req, 16) != 1500 {
		t.Errorf("SetEchoMode(delay, 3, 1.5s) sent %x, want mode %d, count 3, delay 1500", req, control.EchoDelay)
	}
}
