package connector

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// countClock makes the package's clock count its reads for the test.
func countClock(t *testing.T) *int {
	t.Helper()
	reads := new(int)
	now = func() time.Time {
		*reads++
		return time.Now()
	}
	t.Cleanup(func() { now = time.Now })
	return reads
}

// TestRequestTimeoutFastPath: a Conn's request timeout costs no clock read
// when the reply is already queued when the send returns, alone in its
// datagram or behind other messages in it.
func TestRequestTimeoutFastPath(t *testing.T) {
	tests := []struct {
		name  string
		reply func(t *testing.T, s *fakeSocket, req *Message)
	}{
		{"reply alone", func(t *testing.T, s *fakeSocket, req *Message) {
			s.queueMsg(t, reply(req, req.Seq+1), Source{})
		}},
		{"reply behind a broadcast in its datagram", func(t *testing.T, s *fakeSocket, req *Message) {
			b := msgDatagram(t, Message{ID: ID{14, 0x4c1}, Seq: 1})
			b = append(b, msgDatagram(t, reply(req, req.Seq+1))...)
			s.queue(b, Source{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &fakeSocket{}
			s.onWrite = func(s *fakeSocket, req *Message) { tt.reply(t, s, req) }
			c := newConn(s)
			c.SetRequestTimeout(time.Second)
			reads := countClock(t)
			var got Message
			if err := c.RequestInto(context.Background(), &Message{ID: echoID}, &got); err != nil {
				t.Fatalf("RequestInto: %v", err)
			}
			if *reads != 0 {
				t.Fatalf("RequestInto with a request timeout and the reply queued: %d clock reads, want 0", *reads)
			}
		})
	}
}

// TestRequestTimeout: the Conn's request timeout ends a wait for a reply
// that does not come, as context.DeadlineExceeded, counted from when the
// wait began; a context that ends first ends it first; messages that are
// not the reply do not extend it; and no deadline is left behind.
func TestRequestTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	tests := []struct {
		name     string
		ctx      func() (context.Context, context.CancelFunc)
		trickle  bool // non-replies arrive every 5ms meanwhile
		min, max time.Duration
		within   bool // the error says "within 50ms"
	}{
		{name: "no reply", ctx: ctxBackground, min: timeout, max: time.Second, within: true},
		{name: "non-replies trickle in", ctx: ctxBackground, trickle: true, min: timeout, max: time.Second, within: true},
		{name: "the context ends first", ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 10*time.Millisecond)
		}, min: 10 * time.Millisecond, max: timeout - 5*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newChanSocket()
			c := newConn(s)
			c.SetRequestTimeout(timeout)
			stop := make(chan struct{})
			defer close(stop)
			if tt.trickle {
				go func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						case <-time.After(5 * time.Millisecond):
							s.push(msgDatagram(t, Message{ID: ID{14, 0x4c1}, Seq: uint32(i)}), Source{Groups: 1 << 19})
						}
					}
				}()
			}
			ctx, cancel := tt.ctx()
			defer cancel()
			var got Message
			start := time.Now()
			err := c.RequestInto(ctx, &Message{ID: echoID}, &got)
			d := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want context.DeadlineExceeded", err)
			}
			if d < tt.min || d > tt.max {
				t.Fatalf("gave up after %v, want %v to %v", d, tt.min, tt.max)
			}
			if strings.Contains(err.Error(), "within 50ms") != tt.within {
				t.Fatalf("err = %q: says \"within 50ms\" %v, want %v", err, !tt.within, tt.within)
			}
			// No deadline is left behind for a Receive.
			c.SetRequestTimeout(0)
			go func() {
				time.Sleep(2 * timeout)
				s.push(msgDatagram(t, Message{ID: echoID, Seq: 2}), Source{})
			}()
			for {
				m, _, err := c.Receive(context.Background())
				if err != nil {
					t.Fatalf("Receive after the timeout: %v", err)
				}
				if m.ID == echoID {
					break
				}
			}
		})
	}
}

func ctxBackground() (context.Context, context.CancelFunc) {
	return context.Background(), func() {}
}
