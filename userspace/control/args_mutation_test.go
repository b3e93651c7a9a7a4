package control_test

import (
	"encoding/binary"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

// recorder is a connector.Socket that keeps the data of every control
// request and answers each with status 0 and no result.
type recorder struct {
	mu       sync.Mutex
	requests [][]byte
	replies  chan []byte
	deadline time.Time
}

func (r *recorder) Send(b []byte) error {
	// nlmsghdr (16 bytes), then cn_msg: id (8), seq, ack, len, flags.
	cn := b[16:]
	seq, n := binary.NativeEndian.Uint32(cn[8:]), binary.NativeEndian.Uint16(cn[16:])
	data := cn[20 : 20+int(n)]
	r.mu.Lock()
	r.requests = append(r.requests, append([]byte(nil), data...))
	r.mu.Unlock()
	reply := binary.NativeEndian.AppendUint32(nil, binary.NativeEndian.Uint32(data)) // op
	reply = binary.NativeEndian.AppendUint32(reply, 0)                               // status
	d := make([]byte, 36+len(reply))
	binary.NativeEndian.PutUint32(d[0:], uint32(len(d)))
	binary.NativeEndian.PutUint16(d[4:], 3) // NLMSG_DONE
	binary.NativeEndian.PutUint32(d[8:], seq)
	copy(d[16:24], cn[0:8]) // id
	binary.NativeEndian.PutUint32(d[24:], seq)
	binary.NativeEndian.PutUint32(d[28:], seq+1)
	binary.NativeEndian.PutUint16(d[32:], uint16(len(reply)))
	copy(d[36:], reply)
	r.replies <- d
	return nil
}

func (r *recorder) Receive(b []byte, wait bool) (int, connector.Source, error) {
	r.mu.Lock()
	deadline := r.deadline
	r.mu.Unlock()
	var timer <-chan time.Time
	if !deadline.IsZero() {
		timer = time.After(time.Until(deadline))
	}
	if !wait {
		select {
		case d := <-r.replies:
			return copy(b, d), connector.Source{}, nil
		default:
			return 0, connector.Source{}, syscall.EAGAIN
		}
	}
	select {
	case d := <-r.replies:
		return copy(b, d), connector.Source{}, nil
	case <-timer:
		return 0, connector.Source{}, os.ErrDeadlineExceeded
	}
}

func (r *recorder) SetReadDeadline(t time.Time) error {
	r.mu.Lock()
	r.deadline = t
	r.mu.Unlock()
	return nil
}

func (r *recorder) PortID() uint32 { return 4321 }
func (r *recorder) Close() error   { return nil }

func recorded(t *testing.T, f func(c *control.Client) error) []byte {
	t.Helper()
	r := &recorder{replies: make(chan []byte, 4)}
	conn := connector.NewConn(r)
	defer conn.Close()
	if err := f(&control.Client{Conn: conn, ID: control.DefaultID}); err != nil {
		t.Fatal(err)
	}
	if len(r.requests) != 1 {
		t.Fatalf("%d requests, want 1", len(r.requests))
	}
	return r.requests[0]
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
