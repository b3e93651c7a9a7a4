package connector

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestMulticastSourceAroundGroupChanges: a multicast keeps its source
// (the sender's port and the group) whenever it is received: queued before
// the socket left its last group, or arriving for a Receive that began
// waiting before the group was joined. Without the address it would come
// back as Source{0, 0}, like a unicast from the kernel.
func TestMulticastSourceAroundGroupChanges(t *testing.T) {
	const group = 3
	tests := []struct {
		name string
		// run delivers a multicast from p on group and returns its
		// source as Receive gives it.
		run func(t *testing.T, c *Conn, p *peer) (Source, error)
	}{
		{"queued before leaving the last group", func(t *testing.T, c *Conn, p *peer) (Source, error) {
			if err := c.JoinGroup(group); err != nil {
				t.Skipf("join group %d: %v", group, err)
			}
			p.sendTo(t, 0, 1<<(group-1), Message{ID: ID{14, 0x4c1}, Seq: 1})
			if err := c.LeaveGroup(group); err != nil {
				t.Fatal(err)
			}
			_, src, err := receiveWithin(t, c, 2*time.Second)
			return src, err
		}},
		{"for a Receive waiting since before the join", func(t *testing.T, c *Conn, p *peer) (Source, error) {
			type result struct {
				src Source
				err error
			}
			done := make(chan result, 1)
			go func() {
				_, src, err := receiveWithin(t, c, 5*time.Second)
				done <- result{src, err}
			}()
			time.Sleep(50 * time.Millisecond) // let it wait
			if err := c.JoinGroup(group); err != nil {
				c.Close()
				<-done
				t.Skipf("join group %d: %v", group, err)
			}
			p.sendTo(t, 0, 1<<(group-1), Message{ID: ID{14, 0x4c1}, Seq: 1})
			r := <-done
			return r.src, r.err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialHost(t, nil)
			p := newPeer(t)
			src, err := tt.run(t, c, p)
			if err != nil {
				t.Fatalf("Receive: %v", err)
			}
			if want := (Source{PortID: p.pid, Groups: 1 << (group - 1)}); src != want {
				t.Fatalf("a multicast from port %d on group %d arrived from %+v, want %+v", p.pid, group, src, want)
			}
		})
	}
}

// TestRequestRefusesMulticastAfterLeave: a multicast that looks like the
// reply (same id, seq, ack = seq + 1), queued before the socket left its
// last group, is not taken for the reply.
func TestRequestRefusesMulticastAfterLeave(t *testing.T) {
	const group = 3
	c := dialHost(t, nil)
	p := newPeer(t)
	if err := c.JoinGroup(group); err != nil {
		t.Skipf("join group %d: %v", group, err)
	}
	seq := c.seq.Load() + 1
	p.sendTo(t, 0, 1<<(group-1), Message{ID: echoID, Seq: seq, Ack: seq + 1, Data: []byte("forged")})
	if err := c.LeaveGroup(group); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req := &Message{ID: echoID}
	got, err := c.Request(ctx, req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Request (seq %d) with a multicast on group %d that looks like its reply: %q, %v; want no reply", req.Seq, group, got.Data, err)
	}
	m, src, err := receiveWithin(t, c, 2*time.Second)
	if err != nil || string(m.Data) != "forged" || src.Group() != group {
		t.Fatalf("Receive after the Request: %q from %+v, %v; want the multicast on group %d", m.Data, src, err, group)
	}
}

// TestWantAddrWaitsForReceives: a join does not start while a receive that
// did not ask for the address is under way (the narrow window of the
// join: a multicast delivered to it would lose its source).
func TestWantAddrWaitsForReceives(t *testing.T) {
	s := &linuxSocket{}
	s.noAddr.Store(1) // a receive under way without the address
	done := make(chan struct{})
	go func() {
		s.wantAddr()
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("wantAddr returned while a receive without the address was under way")
	case <-time.After(50 * time.Millisecond):
	}
	if !s.addr.Load() {
		t.Fatal("addr not set while wantAddr waits: new receives would not ask for the address")
	}
	s.noAddr.Add(-1)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("wantAddr still waiting 5s after the receive ended")
	}
}
