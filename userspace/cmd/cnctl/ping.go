package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/rtt"
)

const pingSynopsis = `ping [-c count] [-i interval] [-W timeout] [-s size] [-f] [-q] [-json] [idx:val]

Sends echo requests to a callback id (the cnlab module's echo, 14:0x456, by
default) and reports each reply, the loss and the round-trip times, as
ping(8) does. Each reply must have the request's seq and ack = seq + 1.`

// pingTarget is the id ping sends to: -id's, or the one argument's, or the
// module's echo.
func pingTarget(idFlag string, args []string) (connector.ID, error) {
	target := idFlag
	switch {
	case len(args) > 1:
		return connector.ID{}, fmt.Errorf("one target id, got %q", args)
	case len(args) == 1 && target != "" && target != args[0]:
		return connector.ID{}, fmt.Errorf("two targets: -id %s and %s", target, args[0])
	case len(args) == 1:
		target = args[0]
	case target == "":
		target = control.DefaultEchoID.String()
	}
	return connector.ParseID(target)
}

func runPing(e *env, args []string) int {
	fs := e.newFlags("ping", pingSynopsis)
	p := pinger{interval: time.Second, timeout: time.Second}
	var count, size int64
	fs.Int64Var(&count, "c", 0, "stop after this many requests (0: until interrupted)")
	fs.Int64Var(&size, "s", 56, fmt.Sprintf("bytes of data per request (0 to %d)", connector.MaxData))
	fs.Var(seconds{&p.interval}, "i", "wait between requests, in seconds (0.2) or as a duration (200ms); 0 sends the next at once")
	fs.Var(seconds{&p.timeout}, "W", "wait this long for each reply, in seconds or as a duration")
	idFlag := fs.String("id", "", "callback id to ping, as idx:val (the same as the argument)")
	fs.BoolVar(&p.flood, "f", false, "flood: -i 0, and print a dot per request sent and a backspace per reply, as ping -f")
	fs.BoolVar(&p.quiet, "q", false, "print only the summary")
	asJSON := fs.Bool("json", false, "print one JSON object per reply or loss and a summary")
	var id connector.ID
	if code, done := e.parseFlags(fs, args, withArguments,
		func() (err error) { id, err = pingTarget(*idFlag, fs.Args()); return err },
		func() error {
			return checkRanges(check{"c", count, 0, 1<<63 - 1}, check{"s", size, 0, connector.MaxData})
		},
		func() error { return checkDuration("i", p.interval, 0) },
		func() error { return checkDuration("W", p.timeout, time.Microsecond) },
	); done {
		return code
	}
	if p.flood {
		p.interval = 0
	}
	p.id, p.count, p.out = id, int(count), e.stdout
	p.payload = make([]byte, size)
	for i := range p.payload {
		p.payload[i] = byte(i)
	}
	if *asJSON {
		p.enc = json.NewEncoder(e.stdout)
	}
	c, err := e.dial(nil)
	if err != nil {
		return e.fail("ping", err)
	}
	defer c.Close()
	p.c = c

	if p.enc == nil {
		fmt.Fprintf(e.stdout, "PING %s: %d data bytes\n", id, size)
	}
	start := time.Now()
	err = p.run(e.ctx)
	elapsed := time.Since(start)
	if err != nil {
		return e.fail("ping", err)
	}
	p.summary(elapsed)
	if p.st.Count() == 0 && p.lost > 0 {
		// Only a request that waited its -W out says so: one
		// interrupted while waiting is not counted, and says nothing.
		fmt.Fprintf(e.stderr, "cnctl ping: %v\n", errNoCallback(id, p.timeout))
	}
	if p.sent == 0 || p.st.Count() < p.sent {
		return 1
	}
	return 0
}

// pinger is ping's loop, which cnctl bench also times.
type pinger struct {
	c            *connector.Conn
	id           connector.ID
	payload      []byte
	count        int // 0: until ctx is done
	interval     time.Duration
	timeout      time.Duration
	flood, quiet bool
	out          io.Writer
	enc          *json.Encoder // JSON lines instead of text, if set
	sent         int
	lost         int // requests whose wait for a reply ran out
	st           rtt.Stats
}

// run sends requests until count is reached or ctx is done. It returns an
// error only for a failure that ends the ping; lost replies are counted.
func (p *pinger) run(ctx context.Context) error {
	req := connector.Message{ID: p.id}
	var reply connector.Message
	var wait *time.Timer
	// The Conn's request timeout, not a context.WithTimeout per request:
	// the reply is usually there when the send returns, and then the
	// timeout costs nothing at all.
	prev := p.c.RequestTimeout()
	p.c.SetRequestTimeout(p.timeout)
	defer p.c.SetRequestTimeout(prev)
	for p.count == 0 || p.sent < p.count {
		if p.sent > 0 && p.interval > 0 {
			if wait == nil {
				wait = time.NewTimer(p.interval)
			} else {
				wait.Reset(p.interval)
			}
			select {
			case <-ctx.Done():
			case <-wait.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		req.Data = p.payload
		if p.flood && !p.quiet {
			io.WriteString(p.out, ".")
		}
		t0 := time.Now()
		err := p.c.RequestInto(ctx, &req, &reply)
		d := time.Since(t0)
		p.sent++
		switch {
		case err == nil:
			p.st.Add(d)
			p.printReply(&reply, d)
		case ctx.Err() != nil:
			p.sent-- // interrupted while waiting: not a loss
		case errors.Is(err, context.DeadlineExceeded):
			p.lost++
			p.printLoss(req.Seq)
		default:
			return err
		}
	}
	if wait != nil {
		wait.Stop()
	}
	return nil
}

// pingReply is a line of cnctl ping -json (type "reply"): a reply.
type pingReply struct {
	Type  string  `json:"type"` // reply
	Time  string  `json:"time"` // RFC 3339, when the reply arrived
	ID    string  `json:"id"`
	Seq   uint32  `json:"seq"`
	Ack   uint32  `json:"ack"`
	Len   int     `json:"len"` // of the reply's data
	RTTMs float64 `json:"rtt_ms"`
}

// pingTimeout is a line of cnctl ping -json (type "timeout"): a request
// whose reply did not come within -W.
type pingTimeout struct {
	Type      string  `json:"type"` // timeout
	Time      string  `json:"time"` // RFC 3339, when the wait ended
	ID        string  `json:"id"`
	Seq       uint32  `json:"seq"`
	Len       int     `json:"len"` // of the request's data
	TimeoutMs float64 `json:"timeout_ms"`
}

// pingSummary is the last line of cnctl ping -json.
type pingSummary struct {
	Type        string  `json:"type"` // summary
	Time        string  `json:"time"`
	ID          string  `json:"id"`
	Transmitted int     `json:"transmitted"`
	Received    int     `json:"received"`
	LossPercent float64 `json:"loss_percent"`
	ElapsedMs   int64   `json:"elapsed_ms"`
	RTTMinMs    float64 `json:"rtt_min_ms"`
	RTTAvgMs    float64 `json:"rtt_avg_ms"`
	RTTMaxMs    float64 `json:"rtt_max_ms"`
	RTTMdevMs   float64 `json:"rtt_mdev_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (p *pinger) printReply(m *connector.Message, d time.Duration) {
	switch {
	case p.enc != nil:
		_ = p.enc.Encode(pingReply{Type: "reply", Time: timestamp(time.Now()), ID: m.ID.String(), Seq: m.Seq, Ack: m.Ack, Len: len(m.Data), RTTMs: ms(d)})
	case p.quiet:
	case p.flood:
		io.WriteString(p.out, "\b \b")
	default:
		fmt.Fprintf(p.out, "%d bytes from %s: seq=%d ack=%d time=%.3f ms\n", len(m.Data), m.ID, m.Seq, m.Ack, ms(d))
	}
}

func (p *pinger) printLoss(seq uint32) {
	switch {
	case p.enc != nil:
		_ = p.enc.Encode(pingTimeout{Type: "timeout", Time: timestamp(time.Now()), ID: p.id.String(), Seq: seq, Len: len(p.payload), TimeoutMs: ms(p.timeout)})
	case p.quiet, p.flood:
	default:
		fmt.Fprintf(p.out, "no reply from %s for seq=%d within %v\n", p.id, seq, p.timeout)
	}
}

func (p *pinger) summary(elapsed time.Duration) {
	lost := p.sent - p.st.Count()
	loss := 0.0
	if p.sent > 0 {
		loss = 100 * float64(lost) / float64(p.sent)
	}
	if p.enc != nil {
		_ = p.enc.Encode(pingSummary{Type: "summary", Time: timestamp(time.Now()), ID: p.id.String(), Transmitted: p.sent, Received: p.st.Count(),
			LossPercent: loss, ElapsedMs: elapsed.Milliseconds(),
			RTTMinMs: ms(p.st.Min()), RTTAvgMs: ms(p.st.Avg()), RTTMaxMs: ms(p.st.Max()), RTTMdevMs: ms(p.st.Mdev())})
		return
	}
	if p.flood && !p.quiet {
		fmt.Fprintln(p.out)
	}
	fmt.Fprintf(p.out, "\n--- %s connector ping statistics ---\n", p.id)
	fmt.Fprintf(p.out, "%d requests transmitted, %d received, %.4g%% loss, time %dms\n", p.sent, p.st.Count(), loss, elapsed.Milliseconds())
	if p.st.Count() > 0 {
		fmt.Fprintln(p.out, p.st.String())
	}
}
