package cntest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/connector/cntest"
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
