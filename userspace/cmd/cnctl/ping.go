package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/rtt"
)

func runPing(args []string) int {
	fs := flag.NewFlagSet("ping", flag.ContinueOnError)
	count := fs.Int("c", 0, "stop after this many requests (0: until interrupted)")
	size := fs.Int("s", 56, "bytes of data per request")
	interval := fs.Duration("i", time.Second, "wait between requests")
	timeout := fs.Duration("W", time.Second, "wait this long for each reply")
	idFlag := fs.String("id", control.DefaultEchoID.String(), "callback id to ping, as idx:val")
	quiet := fs.Bool("q", false, "print only the summary")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	id, err := connector.ParseID(*idFlag)
	if err != nil {
		return fail("ping", err)
	}
	if *size < 0 || *size > connector.MaxData {
		return fail("ping", fmt.Errorf("-s %d: the connector carries 0 to %d bytes of data", *size, connector.MaxData))
	}
	c, err := connector.Dial(nil)
	if err != nil {
		return fail("ping", err)
	}
	defer c.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = byte(i)
	}
	fmt.Printf("PING %s: %d data bytes\n", id, *size)
	var st rtt.Stats
	sent := 0
	start := time.Now()
	var reply connector.Message
	for *count == 0 || sent < *count {
		if sent > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(*interval):
			}
		}
		if ctx.Err() != nil {
			break
		}
		req := connector.Message{ID: id, Data: payload}
		rctx, cancel := context.WithTimeout(ctx, *timeout)
		t0 := time.Now()
		err := c.RequestInto(rctx, &req, &reply)
		d := time.Since(t0)
		cancel()
		sent++
		switch {
		case err == nil:
			st.Add(d)
			if !*quiet {
				fmt.Printf("%d bytes from %s: seq=%d ack=%d time=%.3f ms\n", len(reply.Data), reply.ID, reply.Seq, reply.Ack, float64(d)/float64(time.Millisecond))
			}
		case errors.Is(err, context.DeadlineExceeded):
			if !*quiet {
				fmt.Printf("no reply from %s for seq=%d within %v\n", id, req.Seq, *timeout)
			}
		case ctx.Err() != nil:
			sent-- // interrupted while waiting: not a loss
		default:
			return fail("ping", err)
		}
	}
	lost := sent - st.Count()
	loss := 0.0
	if sent > 0 {
		loss = 100 * float64(lost) / float64(sent)
	}
	fmt.Printf("\n--- %s connector ping statistics ---\n", id)
	fmt.Printf("%d requests transmitted, %d received, %.4g%% loss, time %dms\n", sent, st.Count(), loss, time.Since(start).Milliseconds())
	if st.Count() > 0 {
		fmt.Println(st.String())
	}
	if lost > 0 || sent == 0 {
		return 1
	}
	return 0
}
