package proctest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/proc"
	"github.com/cnlab/cnlab/userspace/proc/proctest"
)

// A fake cn_proc that acks from port 0, and a forger on port 4242 whose
// event the proc.Conn refuses.
func Example() {
	seqs := map[uint32]uint32{} // each sender's next seq
	push := func(s *proctest.Socket, port uint32, e proc.Event, ack uint32) {
		data, _ := e.MarshalBinary()
		s.Push(port, proc.Group, connector.Message{ID: proc.ID, Seq: seqs[port], Ack: ack, Data: data})
		seqs[port]++
	}
	sock := proctest.NewSocket(func(s *proctest.Socket, m connector.Message) error {
		push(s, 0, proc.Event{What: proc.None}, m.Ack+1) // the kernel's ack
		return nil
	})
	c := proc.New(proctest.NewConn(sock))
	ctx := context.Background()
	if err := c.Subscribe(ctx, proc.All); err != nil {
		fmt.Println(err)
		return
	}
	push(sock, 4242, proc.Event{What: proc.Exit, PID: 1, TGID: 1}, 0)
	push(sock, 0, proc.Event{What: proc.Fork, ParentPID: 1, ParentTGID: 1, PID: 7, TGID: 7}, 0)
	for range 2 {
		e, err := c.Receive(ctx)
		switch {
		case errors.Is(err, proc.ErrForged):
			fmt.Println("refused:", err)
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Println(e.String())
		}
	}
	// Output:
	// refused: forged process event: not from the kernel: from port 4242 to group 1 (id 1:0x1, seq 0, 40 bytes)
	// fork parent=1/1 child=7/7
}
