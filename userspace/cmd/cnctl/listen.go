package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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

// listenEvent is one line of cnctl listen's --json output.
type listenEvent struct {
	Time    string         `json:"time"`
	Event   string         `json:"event"` // message, overrun, error
	Group   uint32         `json:"group,omitempty"`
	Port    uint32         `json:"port,omitempty"`
	ID      string         `json:"id,omitempty"`
	Seq     uint32         `json:"seq"`
	Ack     uint32         `json:"ack"`
	Len     int            `json:"len"`
	What    string         `json:"what,omitempty"`
	Missed  []seqgap.Range `json:"missed,omitempty"`
	Order   string         `json:"order,omitempty"`
	Message string         `json:"message,omitempty"`
}

func runListen(args []string) int {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	groupsFlag := fs.String("g", "", "groups to join, comma separated (1 to 26), e.g. 14 or 14,15")
	rcvbuf := fs.Int("rcvbuf", 0, "receive buffer in bytes (SO_RCVBUF); 0 keeps the default")
	force := fs.Bool("force", false, "set the receive buffer with SO_RCVBUFFORCE (needs CAP_NET_ADMIN)")
	count := fs.Int("c", 0, "stop after this many messages (0: until interrupted)")
	timeout := fs.Duration("timeout", 0, "stop after this long (0: until interrupted)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var groups []uint32
	for _, g := range strings.Split(*groupsFlag, ",") {
		if g == "" {
			continue
		}
		n, err := strconv.ParseUint(g, 0, 32)
		if err != nil {
			return fail("listen", fmt.Errorf("-g %q: %w", g, err))
		}
		groups = append(groups, uint32(n))
	}
	if len(groups) == 0 {
		return fail("listen", errors.New("-g is required: the groups to listen on, e.g. -g 14"))
	}
	c, err := connector.Dial(&connector.Config{Groups: groups, ReadBuffer: *rcvbuf, ForceReadBuffer: *force})
	if err != nil {
		return fail("listen", err)
	}
	defer c.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	out := newListenPrinter(os.Stdout, *asJSON)
	if !*asJSON {
		size, _ := c.ReadBuffer()
		fmt.Printf("listening on groups %s (port %d, receive buffer %d bytes); Ctrl-C to stop\n", *groupsFlag, c.PortID(), size)
	}
	for *count == 0 || out.received < *count {
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
			return fail("listen", err)
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

func now() string { return time.Now().Format("15:04:05.000000") }

func (p *listenPrinter) message(m *connector.Message, src connector.Source) {
	p.received++
	e := listenEvent{Time: now(), Event: "message", Group: src.Group(), Port: src.PortID, ID: m.ID.String(),
		Seq: m.Seq, Ack: m.Ack, Len: len(m.Data), What: describe(m)}
	// Seqs count per stream only for kernel-initiated messages.
	if src.PortID == 0 {
		verdict, gap := p.tracker.Observe(streamKey{m.ID, src.Group()}, m.Seq)
		switch verdict {
		case seqgap.Gap:
			e.Missed = []seqgap.Range{gap}
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
	line := fmt.Sprintf("%s %s %-9s seq %-6d ack %-6d len %-5d %s", e.Time, dest, e.ID, e.Seq, e.Ack, e.Len, e.What)
	if len(e.Missed) > 0 {
		line += fmt.Sprintf("   GAP: missed seq %s (%d messages)", e.Missed[0], e.Missed[0].Len())
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
		_ = p.enc.Encode(listenEvent{Time: now(), Event: "overrun", Message: msg})
		return
	}
	fmt.Fprintf(p.w, "%s OVERRUN: %s\n", now(), msg)
}

func (p *listenPrinter) summary() {
	if p.json {
		_ = p.enc.Encode(map[string]any{"event": "summary", "received": p.received, "missed": p.missed, "gaps": p.gaps, "overruns": p.overruns})
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
