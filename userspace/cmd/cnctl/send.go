package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
)

const sendSynopsis = `send [-id idx:val] [-data text | -s size] [-seq n] [-ack n] [-wait d] [-json]

Sends one message as given, seq and ack included, and prints what arrives
for -wait. It exits 1 when a receive fails or, with -wait above 0, nothing
arrived; 0 otherwise.`

func runSend(e *env, args []string) int {
	fs := e.newFlags("send", sendSynopsis)
	idFlag := fs.String("id", control.DefaultEchoID.String(), "id to send to, as idx:val")
	data := fs.String("data", "", "the message's data")
	size := fs.Int64("s", -1, fmt.Sprintf("instead of -data, this many zero bytes of data (0 to %d)", connector.MaxData))
	seq := fs.Int64("seq", 0, "the message's seq (0 to 4294967295)")
	ack := fs.Int64("ack", 0, "the message's ack (0 to 4294967295)")
	wait := time.Second
	fs.Var(seconds{&wait}, "wait", "print what arrives for this long after sending, in seconds or as a duration (0: do not wait)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	var id connector.ID
	var payload []byte
	if code, done := e.parseFlags(fs, args, noArguments,
		func() (err error) { id, err = connector.ParseID(*idFlag); return err },
		func() error {
			return checkRanges(check{"s", *size, -1, connector.MaxData}, check{"seq", *seq, 0, maxUint32}, check{"ack", *ack, 0, maxUint32})
		},
		func() error { return checkDuration("wait", wait, 0) },
		func() error {
			payload = []byte(*data)
			if *size >= 0 {
				payload = make([]byte, *size)
			}
			if len(payload) > connector.MaxData {
				return fmt.Errorf("-data of %d bytes: the connector carries at most %d", len(payload), connector.MaxData)
			}
			return nil
		},
	); done {
		return code
	}
	c, err := e.dial(nil)
	if err != nil {
		return e.fail("send", err)
	}
	defer c.Close()
	m := connector.Message{ID: id, Seq: uint32(*seq), Ack: uint32(*ack), Data: payload}
	if err := c.Send(&m); err != nil {
		return e.fail("send", err)
	}
	p := newListenPrinter(e.stdout, *asJSON)
	if *asJSON {
		_ = p.enc.Encode(sentLine{Type: "sent", Time: timestamp(time.Now()), ID: id.String(), Seq: m.Seq, Ack: m.Ack, Len: len(payload)})
	} else {
		fmt.Fprintf(e.stdout, "sent to %s: seq %d ack %d len %d\n", id, m.Seq, m.Ack, len(payload))
	}
	if wait <= 0 {
		return 0
	}
	ctx, cancel := context.WithTimeout(e.ctx, wait)
	defer cancel()
	code := 0
	for {
		r, src, err := c.Receive(ctx)
		if errors.Is(err, connector.ErrOverrun) {
			p.overrun()
			continue
		}
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "cnctl send: %v\n", err)
			code = 1
			break
		}
		p.message(&r, src)
	}
	if *asJSON {
		p.summary()
	}
	if p.received == 0 && code == 0 {
		return e.fail("send", fmt.Errorf("nothing arrived within %v (if %s should answer: no callback on %s: is the cnlab module loaded?)", wait, id, id))
	}
	return code
}
