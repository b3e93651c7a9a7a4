package proc

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
)

// sourceSocket is a connector socket whose datagrams come with the source
// address the test gives them: the kernel's port 0, or a user-space
// sender's port, as recvfrom reports it. cntest's fake sends everything
// from port 0, so it cannot forge. Requests are acked from port 0, as
// cn_proc does, unless ack says otherwise.
type sourceSocket struct {
	wake chan struct{}
	// ack, if set, is called with each request's ack before the kernel's
	// ack is queued: a forger's move.
	ack func(s *sourceSocket, ack uint32)

	mu       sync.Mutex
	queue    [][]byte
	srcs     []connector.Source
	seq      uint32
	deadline time.Time
	closed   bool
}

func newSourceSocket(t *testing.T, ack func(s *sourceSocket, ack uint32)) (*Conn, *sourceSocket) {
	t.Helper()
	s := &sourceSocket{wake: make(chan struct{}, 1), ack: ack}
	cc := connector.NewConn(s)
	t.Cleanup(func() { cc.Close() })
	c := New(cc)
	c.ackTimeout = 100 * time.Millisecond
	return c, s
}

// push queues e from port as a broadcast to Group; seq is CPU 0's next
// when port is 0, and seq as given otherwise.
func (s *sourceSocket) push(port uint32, e Event, seq, ack uint32) {
	data, _ := e.MarshalBinary()
	s.mu.Lock()
	defer s.mu.Unlock()
	if port == 0 {
		seq = s.seq
		s.seq++
	}
	b, _ := (&connector.Message{ID: ID, Seq: seq, Ack: ack, Data: data}).MarshalBinary()
	d := make([]byte, 16, 16+len(b))
	binary.NativeEndian.PutUint32(d[0:], uint32(16+len(b)))
	binary.NativeEndian.PutUint16(d[4:], 3) // NLMSG_DONE
	binary.NativeEndian.PutUint32(d[12:], port)
	s.queue = append(s.queue, append(d, b...))
	s.srcs = append(s.srcs, connector.Source{PortID: port, Groups: 1 << (Group - 1)})
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sourceSocket) Send(b []byte) error {
	var m connector.Message
	if len(b) < 16 || m.UnmarshalBinary(b[16:]) != nil {
		return syscall.EINVAL
	}
	if s.ack != nil {
		s.ack(s, m.Ack+1)
	}
	s.push(0, Event{What: None}, 0, m.Ack+1)
	return nil
}

func (s *sourceSocket) Receive(b []byte, wait bool) (int, connector.Source, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, connector.Source{}, net.ErrClosed
		}
		if len(s.queue) > 0 {
			d, src := s.queue[0], s.srcs[0]
			s.queue, s.srcs = s.queue[1:], s.srcs[1:]
			s.mu.Unlock()
			return copy(b, d), src, nil
		}
		dl := s.deadline
		s.mu.Unlock()
		if !wait {
			return 0, connector.Source{}, syscall.EAGAIN
		}
		var timeout <-chan time.Time
		if !dl.IsZero() {
			left := time.Until(dl)
			if left <= 0 {
				return 0, connector.Source{}, os.ErrDeadlineExceeded
			}
			tm := time.NewTimer(left)
			defer tm.Stop()
			timeout = tm.C
		}
		select {
		case <-s.wake:
		case <-timeout:
		}
	}
}

func (s *sourceSocket) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

func (s *sourceSocket) PortID() uint32 { return 77 }

func (s *sourceSocket) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Only the kernel, port 0, sends process events: one from a user-space
// port (a privileged socket can send to group 1) is reported as forged in
// its place, counted, and neither returned as an event, nor taken as an
// ack, nor counted in the seqs.
func TestReceiveForged(t *testing.T) {
	const forger = 4242
	tests := []struct {
		name  string
		ack   func(s *sourceSocket, ack uint32) // the forger's answer to a request
		forge func(s *sourceSocket)             // what it sends among the events
		want  string                            // what Receive returns
	}{
		{"a forged exit among the events", nil, func(s *sourceSocket) {
			s.push(forger, Event{What: Exit, PID: 1, TGID: 1}, 900, 0)
		}, "fork forged exit"},
		{"a forged ack among the events", nil, func(s *sourceSocket) {
			s.push(forger, Event{What: None}, 901, 0)
		}, "fork forged exit"},
		{"a forged refusal of the subscription", func(s *sourceSocket, ack uint32) {
			s.push(forger, Event{What: None, Err: syscall.EPERM}, 902, ack)
		}, nil, "forged fork exit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := newSourceSocket(t, tt.ack)
			if err := c.Subscribe(ctx(t), All); err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			s.push(0, Event{What: Fork, PID: 5, TGID: 5}, 0, 0)
			if tt.forge != nil {
				tt.forge(s)
			}
			s.push(0, Event{What: Exit, PID: 5, TGID: 5}, 0, 0)
			var got []string
			for len(got) == 0 || got[len(got)-1] != "exit" {
				e, err := c.Receive(ctx(t))
				switch {
				case errors.Is(err, ErrForged):
					got = append(got, "forged")
				case err != nil:
					t.Fatalf("Receive after %q: %v", got, err)
				default:
					got = append(got, e.What.String())
				}
			}
			st := c.Stats()
			if g := strings.Join(got, " "); g != tt.want || st.Forged != 1 || st.Missed != 0 || st.Acks != 0 {
				t.Fatalf("received %q; stats %+v; want %q, 1 forged, nothing missed, no other ack", g, st, tt.want)
			}
		})
	}
}
