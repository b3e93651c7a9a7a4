package cntest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/connector/cntest"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

// A fake kernel with a function for a callback: here one that answers
// every request with its data upper-cased.
func ExampleDial() {
	c := cntest.Dial(func(from uint32, m connector.Message) ([]connector.Message, error) {
		data := []byte(string(m.Data))
		for i, b := range data {
			if 'a' <= b && b <= 'z' {
				data[i] = b - 'a' + 'A'
			}
		}
		return []connector.Message{{ID: m.ID, Seq: m.Seq, Ack: m.Seq + 1, Data: data}}, nil
	})
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	reply, err := c.Request(ctx, &connector.Message{ID: connector.ID{Idx: 14, Val: 0x456}, Data: []byte("hello")})
	fmt.Println(string(reply.Data), err)
	// Output: HELLO <nil>
}

// A fake cnlab module, for code that drives it through control.Client:
// a burst to a group reaches the Conns that joined it.
func ExampleKernel_LoadModule() {
	k := cntest.New(nil)
	k.LoadModule()
	conn, _ := k.Dial(nil)
	defer conn.Close()
	listener, _ := k.Dial(&connector.Config{Groups: []uint32{20}})
	defer listener.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c := &control.Client{Conn: conn, ID: control.DefaultID}
	res, err := c.Burst(ctx, wire.Burst{Group: 20, Count: 2, Size: wire.SizeofBcast})
	fmt.Println(res.Count, res.Ok, err)
	for i := 0; i < 2; i++ {
		m, src, _ := listener.Receive(ctx)
		fmt.Println(m.ID, m.Seq, src.Group())
	}
	// Output:
	// 2 2 <nil>
	// 14:0x4c1 0 20
	// 14:0x4c1 1 20
}
