package proc

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/proc/proctest"
)

// forgery is a proctest.Socket under a Conn, acking every request from
// port 0 as cn_proc does (CPU 0, the next seq), after the forger's ack if
// one is given.
type forgery struct {
	s   *proctest.Socket
	seq uint32
}

func newForgery(t *testing.T, forgeAck func(f *forgery, ack uint32)) (*Conn, *forgery) {
	t.Helper()
	f := &forgery{}
	f.s = proctest.NewSocket(func(_ *proctest.Socket, m connector.Message) error {
		if forgeAck != nil {
			forgeAck(f, m.Ack+1)
		}
		f.push(0, Event{What: None}, 0, m.Ack+1)
		return nil
	})
	cc := proctest.NewConn(f.s)
	t.Cleanup(func() { cc.Close() })
	c := New(cc)
	c.ackTimeout = 100 * time.Millisecond
	return c, f
}

// push queues e from port to Group; seq is CPU 0's next when port is 0,
// and seq as given otherwise.
func (f *forgery) push(port uint32, e Event, seq, ack uint32) {
	if port == 0 {
		seq = f.seq
		f.seq++
	}
	data, _ := e.MarshalBinary()
	f.s.Push(port, Group, connector.Message{ID: ID, Seq: seq, Ack: ack, Data: data})
}

// Only the kernel, port 0, sends process events: one from a user-space
// port (a privileged socket can send to group 1) is reported as forged in
// its place, counted, and neither returned as an event, nor taken as an
// ack, nor counted in the seqs.
func TestReceiveForged(t *testing.T) {
	const forger = 4242
	tests := []struct {
		name  string
		ack   func(s *forgery, ack uint32) // the forger's answer to a request
		forge func(s *forgery)             // what it sends among the events
		want  string                       // what Receive returns
	}{
		{"a forged exit among the events", nil, func(s *forgery) {
			s.push(forger, Event{What: Exit, PID: 1, TGID: 1}, 900, 0)
		}, "fork forged exit"},
		{"a forged ack among the events", nil, func(s *forgery) {
			s.push(forger, Event{What: None}, 901, 0)
		}, "fork forged exit"},
		{"a forged refusal of the subscription", func(s *forgery, ack uint32) {
			s.push(forger, Event{What: None, Err: syscall.EPERM}, 902, ack)
		}, nil, "forged fork exit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := newForgery(t, tt.ack)
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
