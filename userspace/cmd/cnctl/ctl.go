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
	"github.com/cnlab/cnlab/userspace/wire"
)

// ctlOps are cnctl ctl's operations: each parses its flags and talks to
// the module through a control.Client.
var ctlOps = []struct {
	name, summary string
	run           func(ctx context.Context, c *control.Client, args []string, out *ctlOutput) error
}{
	{"stats", "print the module's counters", ctlStats},
	{"burst", "send -n messages of -s bytes to group -g, or to port -port", ctlBurst},
	{"timer-start", "broadcast to group -g every -period", ctlTimerStart},
	{"timer-stop", "stop the timer broadcast", func(ctx context.Context, c *control.Client, args []string, out *ctlOutput) error {
		if err := parseFlags("timer-stop", args, nil); err != nil {
			return err
		}
		if err := c.TimerStop(ctx); err != nil {
			return err
		}
		out.done("timer stopped", nil)
		return nil
	}},
	{"register", "register a further id -id, which echoes", func(ctx context.Context, c *control.Client, args []string, out *ctlOutput) error {
		return ctlID(ctx, args, out, "register", c.Register)
	}},
	{"unregister", "unregister an id registered with register", func(ctx context.Context, c *control.Client, args []string, out *ctlOutput) error {
		return ctlID(ctx, args, out, "unregister", c.Unregister)
	}},
	{"echo-mode", "answer the next -count echo requests in -mode (normal, twice, wrong-ack, delay, none)", ctlEchoMode},
}

// ctlOutput prints an operation's outcome as text or JSON.
type ctlOutput struct {
	json bool
}

func (o *ctlOutput) done(text string, v any) {
	if o.json {
		if v == nil {
			v = map[string]any{"ok": true, "what": text}
		}
		_ = json.NewEncoder(os.Stdout).Encode(v)
		return
	}
	fmt.Println(text)
}

func runCtl(args []string) int {
	usage := func() {
		fmt.Fprintf(os.Stderr, "usage: cnctl ctl [-id idx:val] [-json] <operation> [flags]\n\noperations:\n")
		for _, op := range ctlOps {
			fmt.Fprintf(os.Stderr, "  %-12s %s\n", op.name, op.summary)
		}
	}
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	fs.Usage = usage
	idFlag := fs.String("id", control.DefaultID.String(), "the module's control id, as idx:val")
	asJSON := fs.Bool("json", false, "print the outcome as JSON")
	timeout := fs.Duration("timeout", 10*time.Second, "wait this long for the module's answer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		usage()
		return 2
	}
	id, err := connector.ParseID(*idFlag)
	if err != nil {
		return fail("ctl", err)
	}
	for _, op := range ctlOps {
		if op.name != fs.Arg(0) {
			continue
		}
		conn, err := connector.Dial(nil)
		if err != nil {
			return fail("ctl "+op.name, err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		out := &ctlOutput{json: *asJSON}
		if err := op.run(ctx, &control.Client{Conn: conn, ID: id}, fs.Args()[1:], out); err != nil {
			if out.json {
				_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"ok": false, "error": err.Error()})
			}
			return fail("ctl "+op.name, err)
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "cnctl ctl: unknown operation %q\n\n", fs.Arg(0))
	usage()
	return 2
}

func parseFlags(name string, args []string, setup func(fs *flag.FlagSet)) error {
	fs := flag.NewFlagSet("ctl "+name, flag.ContinueOnError)
	if setup != nil {
		setup(fs)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

func ctlStats(ctx context.Context, c *control.Client, args []string, out *ctlOutput) error {
	if err := parseFlags("stats", args, nil); err != nil {
		return err
	}
	st, err := c.Stats(ctx)
	if err != nil {
		return err
	}
	if out.json {
		out.done("", st)
		return nil
	}
	fmt.Printf("echo: received %d, replied %d, invalid %d\n", st.Received, st.Replied, st.Invalid)
	fmt.Printf("control: received %d, invalid %d, refused %d\n", st.Ctl_received, st.Ctl_invalid, st.Ctl_refused)
	fmt.Printf("further ids: received %d; timer ticks %d; notifications %d\n", st.Extra_received, st.Timer_ticks, st.Notifications)
	fmt.Printf("allocations %d, frees %d\n", st.Allocs, st.Frees)
	for _, ec := range control.SendErrors(&st) {
		fmt.Printf("send error %s (%d): %d\n", ec.Errno.Error(), int(ec.Errno), ec.Count)
	}
	for g, d := range st.Dests {
		if d.Sent == 0 {
			continue
		}
		dest := fmt.Sprintf("group %d", g)
		if g == 0 {
			dest = "unicast"
		}
		fmt.Printf("%-9s sent %d: ok %d, ESRCH %d, EAGAIN %d, ECONNREFUSED %d, ENOMEM %d, other %d\n",
			dest, d.Sent, d.Ok, d.Esrch, d.Eagain, d.Econnrefused, d.Enomem, d.Other)
	}
	return nil
}

func ctlBurst(ctx context.Context, c *control.Client, args []string, out *ctlOutput) error {
	var b wire.Burst
	var group, port, n, size uint
	if err := parseFlags("burst", args, func(fs *flag.FlagSet) {
		fs.UintVar(&group, "g", 0, "group to send to (1 to 26)")
		fs.UintVar(&port, "port", 0, "port to send to, if no group")
		fs.UintVar(&n, "n", 100, "messages")
		fs.UintVar(&size, "s", wire.SizeofBcast, "bytes of data per message (at least 16)")
	}); err != nil {
		return err
	}
	if (group == 0) == (port == 0) {
		return errors.New("give one of -g and -port")
	}
	b = wire.Burst{Group: uint32(group), Portid: uint32(port), Count: uint32(n), Size: uint32(size)}
	res, err := c.Burst(ctx, b)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("burst: %d messages, seq %d to %d: %d sent, %d failed", res.Count, res.Seq, res.Seq+res.Count-1, res.Ok, res.Failed)
	if res.Failed > 0 {
		text += " (cnctl ctl stats says how)"
	}
	if res.Count == 0 {
		text = "burst: no messages"
	}
	out.done(text, res)
	return nil
}

func ctlTimerStart(ctx context.Context, c *control.Client, args []string, out *ctlOutput) error {
	var group uint
	var period time.Duration
	if err := parseFlags("timer-start", args, func(fs *flag.FlagSet) {
		fs.UintVar(&group, "g", 0, "group to broadcast to (1 to 26)")
		fs.DurationVar(&period, "period", time.Second, "time between broadcasts")
	}); err != nil {
		return err
	}
	if group == 0 {
		return errors.New("-g is required")
	}
	if err := c.TimerStart(ctx, uint32(group), period); err != nil {
		return err
	}
	out.done(fmt.Sprintf("timer broadcasts to group %d every %v", group, period), nil)
	return nil
}

func ctlID(ctx context.Context, args []string, out *ctlOutput, what string, do func(context.Context, connector.ID) error) error {
	var s string
	if err := parseFlags(what, args, func(fs *flag.FlagSet) {
		fs.StringVar(&s, "id", "", "the id, as idx:val")
	}); err != nil {
		return err
	}
	id, err := connector.ParseID(s)
	if err != nil {
		return err
	}
	if err := do(ctx, id); err != nil {
		return err
	}
	out.done(fmt.Sprintf("%sed %s", what, id), nil)
	return nil
}

func ctlEchoMode(ctx context.Context, c *control.Client, args []string, out *ctlOutput) error {
	var mode string
	var count uint
	var delay time.Duration
	if err := parseFlags("echo-mode", args, func(fs *flag.FlagSet) {
		fs.StringVar(&mode, "mode", "normal", "normal, twice, wrong-ack, delay or none")
		fs.UintVar(&count, "count", 1, "requests to answer so")
		fs.DurationVar(&delay, "delay", 0, "with -mode delay: how late")
	}); err != nil {
		return err
	}
	m, err := control.ParseEchoMode(mode)
	if err != nil {
		return err
	}
	if err := c.SetEchoMode(ctx, m, uint32(count), delay); err != nil {
		return err
	}
	out.done(fmt.Sprintf("the next %d echo requests are answered: %s", count, mode), nil)
	return nil
}
