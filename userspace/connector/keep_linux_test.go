package connector

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRequestKeepsTruncationOnHost: a datagram larger than the receive
// buffer, queued on a real socket ahead of the reply, does not end the
// Request. The reply is forged by a peer (root may send to any port) with
// nlmsg_pid 0, which a socket in no group takes for the kernel.
func TestRequestKeepsTruncationOnHost(t *testing.T) {
	c := dialHost(t, nil)
	if err := c.SetReadBuffer(1<<20, false); err != nil {
		t.Fatal(err)
	}
	p := newPeer(t)
	big := make([]byte, 70000)
	copy(big, msgDatagram(t, Message{ID: echoID}))
	p.sendRaw(t, c.PortID(), 0, big)
	seq := c.seq.Load() + 1
	p.sendTo(t, c.PortID(), 0, Message{ID: echoID, Seq: seq, Ack: seq + 1, Data: []byte("pong")})
	var reply Message
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	req := &Message{ID: echoID}
	if err := c.RequestInto(ctx, req, &reply); err != nil || req.Seq != seq || string(reply.Data) != "pong" {
		t.Fatalf("Request (seq %d) with a 70000-byte datagram ahead of its reply (seq %d): data %q, %v; want \"pong\"", req.Seq, seq, reply.Data, err)
	}
	if _, _, err := receiveWithin(t, c, 2*time.Second); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Receive after the Request: err = %v, want ErrTruncated", err)
	}
}
