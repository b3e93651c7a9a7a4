package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
)

func runSend(args []string) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	idFlag := fs.String("id", control.DefaultEchoID.String(), "id to send to, as idx:val")
	data := fs.String("data", "", "the message's data")
	size := fs.Int("s", -1, "instead of -data, this many bytes of data")
	seq := fs.Uint("seq", 0, "the message's seq")
	ack := fs.Uint("ack", 0, "the message's ack")
	wait := fs.Duration("wait", time.Second, "print what arrives for this long after sending (0: do not wait)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	id, err := connector.ParseID(*idFlag)
	if err != nil {
		return fail("send", err)
	}
	payload := []byte(*data)
	if *size >= 0 {
		payload = make([]byte, *size)
	}
	c, err := connector.Dial(nil)
	if err != nil {
		return fail("send", err)
	}
	defer c.Close()
	m := connector.Message{ID: id, Seq: uint32(*seq), Ack: uint32(*ack), Data: payload}
	if err := c.Send(&m); err != nil {
		return fail("send", err)
	}
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"event": "sent", "id": id.String(), "seq": m.Seq, "ack": m.Ack, "len": len(payload)})
	} else {
		fmt.Printf("sent to %s: seq %d ack %d len %d\n", id, m.Seq, m.Ack, len(payload))
	}
	if *wait <= 0 {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	defer cancel()
	p := newListenPrinter(os.Stdout, *asJSON)
	for {
		r, src, err := c.Receive(ctx)
		if errors.Is(err, connector.ErrOverrun) {
			p.overrun()
			continue
		}
		if err != nil {
			break
		}
		p.message(&r, src)
	}
	if p.received == 0 && !*asJSON {
		fmt.Printf("nothing arrived within %v\n", *wait)
	}
	return 0
}
