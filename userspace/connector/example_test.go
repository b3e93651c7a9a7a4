package connector_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/connector/cntest"
)

// A request and its reply. With connector.Dial(nil) instead of the fake,
// this pings the cnlab module's echo id.
func ExampleConn_Request() {
	c := cntest.Dial(cntest.Echo)
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req := &connector.Message{ID: connector.ID{Idx: 14, Val: 0x456}, Data: []byte("hello")}
	reply, err := c.Request(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reply.ID, reply.IsReplyTo(req.ID, req.Seq), string(reply.Data))
	// Output: 14:0x456 true hello
}

// A loop of requests that allocates nothing: RequestInto reuses the reply's
// buffer.
func ExampleConn_RequestInto() {
	c := cntest.Dial(cntest.Echo)
	defer c.Close()

	req := connector.Message{ID: connector.ID{Idx: 14, Val: 0x456}, Data: make([]byte, 64)}
	var reply connector.Message
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.RequestInto(ctx, &req, &reply)
		cancel()
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(len(reply.Data), "bytes back")
	// Output: 64 bytes back
}

// Listening on a group: what the kernel multicasts there arrives with the
// group in its source.
func ExampleConn_Receive() {
	k := cntest.New(nil)
	c, err := k.Dial(&connector.Config{Groups: []uint32{20}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	k.Multicast(20, connector.Message{ID: connector.ID{Idx: 14, Val: 0x4c1}, Seq: 7})

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m, src, err := c.Receive(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s seq %d on group %d from port %d\n", m.ID, m.Seq, src.Group(), src.PortID)
	// Output: 14:0x4c1 seq 7 on group 20 from port 0
}

// A callback that never answers: the request ends with the context.
func ExampleConn_Request_timeout() {
	c := cntest.Dial(nil)
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := c.Request(ctx, &connector.Message{ID: connector.ID{Idx: 14, Val: 0x456}})
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output: true
}
