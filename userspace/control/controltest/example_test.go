package controltest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/control/controltest"
	"github.com/cnlab/cnlab/userspace/wire"
)

// A fake cnlab module, for code that drives it through control.Client:
// a burst to a group reaches the Conns that joined it.
func ExampleNew() {
	k, _ := controltest.New()
	conn, _ := k.Dial(nil)
	defer conn.Close()
	listener, _ := k.Dial(&connector.Config{Groups: []uint32{20}})
	defer listener.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c := &control.Client{Conn: conn}
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
