package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/seqgap"
	"github.com/cnlab/cnlab/userspace/wire"
)

// streamKey names a stream of kernel-initiated messages: an id on a group.
type streamKey struct {
	id    connector.ID
	group uint32
}

const listenSynopsis = `listen -g group[,group...] [-c count] [-timeout d] [-rcvbuf bytes [-force]] [-json]

Prints each message sent to the groups, one line a message, with "GAP:
missed seq 9-39 (31 messages)" where a stream's seqs jump and "OVERRUN"
where the socket's queue overflowed. Joining a connector group needs
CAP_NET_ADMIN.`

// parseGroups parses listen's -g: groups 1 to connector.Groups, comma
// separated; at least one.
func parseGroups(s string) ([]uint32, error) {
	var groups []uint32
	for _, g := range strings.Split(s, ",") {
		if g == "" {
			continue
		}
		n, err := strconv.ParseUint(g, 0, 32)
		if err != nil || n < 1 || n > connector.Groups {
			return nil, fmt.Errorf("-g %q: want groups 1 to %d", g, connector.Groups)
		}
		groups = append(groups, uint32(n))
	}
	if len(groups) == 0 {
		return nil, errors.New("-g is required: the groups to listen on, e.g. -g 20")
	}
	return groups, nil
}

func runListen(e *env, args []string) int {
	fs := e.newFlags("listen", listenSynopsis)
	groupsFlag := fs.String("g", "", fmt.Sprintf("groups to join, comma separated (1 to %d), e.g. 20 or 20,21", connector.Groups))
	rcvbuf := fs.Int64("rcvbuf", 0, "receive buffer in bytes (SO_RCVBUF); 0 keeps the default")
	force := fs.Bool("force", false, "set the receive buffer with SO_RCVBUFFORCE (needs CAP_NET_ADMIN)")
	count := fs.Int64("c", 0, "stop after this many messages (0: until interrupted)")
	var timeout time.Duration
	fs.Var(seconds{&timeout}, "timeout", "stop after this long, in seconds or as a duration (0: until interrupted)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	var groups []uint32
	if code, done := e.parseFlags(fs, args, noArguments,
		func() error {
			return checkRanges(check{"c", *count, 0, 1<<63 - 1}, check{"rcvbuf", *rcvbuf, 0, 1<<31 - 1})
		},
		func() error { return checkDuration("timeout", timeout, 0) },
		func() (err error) { groups, err = parseGroups(*groupsFlag); return err },
	); done {
		return code
	}
	c, err := e.dial(&connector.Config{Groups: groups, ReadBuffer: int(*rcvbuf), ForceReadBuffer: *force})
	if err != nil {
		return e.fail("listen", err)
	}
	defer c.Close()

	ctx := e.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	out := newListenPrinter(e.stdout, *asJSON)
	if !*asJSON {
		size, _ := c.ReadBuffer()
		fmt.Fprintf(e.stdout, "listening on groups %s (port %d, receive buffer %d bytes); Ctrl-C to stop\n", *groupsFlag, c.PortID(), size)
	}
	for *count == 0 || int64(out.received) < *count {
		m, src, err := c.Receive(ctx)
		switch {
		case errors.Is(err, connector.ErrOverrun):
			out.overrun()
			continue
		case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
			out.summary()
			return 0
		case err != nil:
			out.summary()
			return e.fail("listen", err)
		}
		out.message(&m, src)
	}
	out.summary()
	return 0
}

// listenPrinter prints what a listener receives, finding gaps per stream.
type listenPrinter struct {
	w        io.Writer
	json     bool
	enc      *json.Encoder
	tracker  seqgap.Tracker[streamKey]
	received int
	missed   uint64
	gaps     int
	overruns int
}

func newListenPrinter(w io.Writer, asJSON bool) *listenPrinter {
	return &listenPrinter{w: w, json: asJSON, enc: json.NewEncoder(w)}
}

func (p *listenPrinter) message(m *connector.Message, src connector.Source) {
	p.received++
	t := time.Now()
	e := messageLine{Type: "message", Time: timestamp(t), Group: src.Group(), Port: src.PortID, ID: m.ID.String(),
		Seq: m.Seq, Ack: m.Ack, Len: len(m.Data), What: describe(m)}
	var gap seqgap.Range
	// Seqs count per stream only for kernel-initiated messages.
	if src.PortID == 0 {
		var verdict seqgap.Verdict
		verdict, gap = p.tracker.Observe(streamKey{m.ID, src.Group()}, m.Seq)
		switch verdict {
		case seqgap.Gap:
			e.Missed = []seqRange{toSeqRange(gap)}
			p.missed += gap.Len()
			p.gaps++
		case seqgap.Backwards:
			e.Order = "backwards: a duplicate, or the sender restarted its seqs"
		}
	}
	if p.json {
		_ = p.enc.Encode(e)
		return
	}
	dest := fmt.Sprintf("group %-2d", e.Group)
	if e.Group == 0 {
		dest = fmt.Sprintf("port %d", e.Port)
	}
	line := fmt.Sprintf("%s %s %-9s seq %-6d ack %-6d len %-5d %s", t.Format("15:04:05.000000"), dest, e.ID, e.Seq, e.Ack, e.Len, e.What)
	if len(e.Missed) > 0 {
		line += fmt.Sprintf("   GAP: missed seq %s (%d messages)", gap, gap.Len())
	}
	if e.Order != "" {
		line += "   " + strings.ToUpper(e.Order[:1]) + e.Order[1:]
	}
	fmt.Fprintln(p.w, line)
}

func (p *listenPrinter) overrun() {
	p.overruns++
	msg := "the receive queue overflowed (ENOBUFS): the kernel dropped messages for this socket; the next gap says which"
	if p.json {
		_ = p.enc.Encode(overrunLine{Type: "overrun", Time: timestamp(time.Now()), Message: msg})
		return
	}
	fmt.Fprintf(p.w, "%s OVERRUN: %s\n", time.Now().Format("15:04:05.000000"), msg)
}

func (p *listenPrinter) summary() {
	if p.json {
		_ = p.enc.Encode(listenSummary{Type: "summary", Time: timestamp(time.Now()), Received: p.received, Missed: p.missed, Gaps: p.gaps, Overruns: p.overruns})
		return
	}
	fmt.Fprintf(p.w, "--- %d received, %d missed in %d gaps, %d overruns\n", p.received, p.missed, p.gaps, p.overruns)
}

// describe says what a message is, for those cnlab sends.
func describe(m *connector.Message) string {
	if m.ID.Idx != wire.Idx {
		return ""
	}
	switch m.ID.Val {
	case wire.BcastVal:
		b, err := control.ParseBcast(m.Data)
		if err != nil {
			return "malformed broadcast: " + err.Error()
		}
		switch b.Kind {
		case wire.BcastTimer:
			return "timer"
		case wire.BcastBurst:
			return "burst"
		}
		return fmt.Sprintf("broadcast of kind %d", b.Kind)
	case wire.NotifyVal:
		n, err := control.ParseNotify(m.Data)
		if err != nil {
			return "malformed notification: " + err.Error()
		}
		state := "registered"
		if n.On == 0 {
			state = "unregistered"
		}
		return fmt.Sprintf("notify: %s %s", connector.ID{Idx: n.Idx, Val: n.Val}, state)
	}
	return ""
}
