package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

// ctlRun runs a ctl operation on the module and fills in its result.
type ctlRun func(ctx context.Context, c *control.Client, r *ctlResult) error

// ctlOp is one of cnctl ctl's operations. flags defines its flags and
// returns a check of their values and what runs it, so that -h and bad
// values are dealt with before anything is dialed.
type ctlOp struct {
	name, args, summary string
	flags               func(fs *flag.FlagSet) (check func() error, run ctlRun)
}

func noCheck() error { return nil }

var ctlOps = []ctlOp{
	{"stats", "", "print the module's counters", func(fs *flag.FlagSet) (func() error, ctlRun) {
		return noCheck, func(ctx context.Context, c *control.Client, r *ctlResult) error {
			st, err := c.Stats(ctx)
			if err != nil {
				return err
			}
			r.raw = &st
			r.Stats = toStats(&st)
			return nil
		}
	}},
	{"burst", "-g group | -port port [-n count] [-s size]", "send -n messages of -s bytes to group -g, or to port -port", ctlBurst},
	{"timer-start", "-g group [-period d]", "broadcast to group -g every -period", ctlTimerStart},
	{"timer-stop", "", "stop the timer broadcast", func(fs *flag.FlagSet) (func() error, ctlRun) {
		return noCheck, func(ctx context.Context, c *control.Client, r *ctlResult) error {
			r.What = "timer stopped"
			return c.TimerStop(ctx)
		}
	}},
	{"register", "-id idx:val", "register a further id, which echoes", func(fs *flag.FlagSet) (func() error, ctlRun) {
		return ctlID(fs, "register", (*control.Client).Register)
	}},
	{"unregister", "-id idx:val", "unregister an id registered with register", func(fs *flag.FlagSet) (func() error, ctlRun) {
		return ctlID(fs, "unregister", (*control.Client).Unregister)
	}},
	{"echo-mode", "[-mode m] [-count n] [-delay d]", "answer the next -count echo requests in -mode (normal, twice, wrong-ack, delay, none)", ctlEchoMode},
}

// ctlCommon are the flags of ctl and of each operation: given before the
// operation or after it.
type ctlCommon struct {
	ctlID   string
	json    bool
	timeout time.Duration
}

func (o *ctlCommon) define(fs *flag.FlagSet, idName string) {
	fs.StringVar(&o.ctlID, idName, o.ctlID, "the module's control id, as idx:val")
	fs.BoolVar(&o.json, "json", o.json, "print the outcome as one JSON object")
	fs.Var(seconds{&o.timeout}, "timeout", "wait this long for the module's answer, in seconds or as a duration")
}

func ctlUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: cnctl ctl [-id idx:val] [-json] [-timeout d] <operation> [flags]\n\noperations:\n")
	for _, op := range ctlOps {
		fmt.Fprintf(w, "  %-12s %s\n", op.name, op.summary)
	}
	fmt.Fprintf(w, "\nRun cnctl ctl <operation> -h for its flags. All but stats need CAP_NET_ADMIN.\n\nflags:\n")
}

// ctlOpNames lists the operations, for a usage error.
func ctlOpNames() string {
	names := make([]string, len(ctlOps))
	for i, op := range ctlOps {
		names[i] = op.name
	}
	return strings.Join(names, ", ")
}

// findCtlOp is the operation args name first.
func findCtlOp(args []string) (*ctlOp, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("which operation? One of %s", ctlOpNames())
	}
	for i := range ctlOps {
		if ctlOps[i].name == args[0] {
			return &ctlOps[i], nil
		}
	}
	return nil, fmt.Errorf("unknown operation %q: want one of %s", args[0], ctlOpNames())
}

func runCtl(e *env, args []string) int {
	common := ctlCommon{ctlID: control.DefaultID.String(), timeout: 10 * time.Second}
	fs := e.newFlags("ctl", "")
	common.define(fs, "id")
	fs.Usage = func() {
		ctlUsage(fs.Output())
		fs.PrintDefaults()
	}
	var op *ctlOp
	if code, done := e.parseFlags(fs, args, withArguments,
		func() (err error) { op, err = findCtlOp(fs.Args()); return err },
	); done {
		return code
	}
	name := "ctl " + op.name
	ofs := e.newFlags(name, fmt.Sprintf("ctl %s %s [-ctl-id idx:val] [-json] [-timeout d]\n\n%s.", op.name, op.args, op.summary))
	common.define(ofs, "ctl-id")
	check, run := op.flags(ofs)
	var id connector.ID
	if code, done := e.parseFlags(ofs, fs.Args()[1:], noArguments,
		check,
		func() error { return checkDuration("timeout", common.timeout, time.Millisecond) },
		func() (err error) { id, err = connector.ParseID(common.ctlID); return err },
	); done {
		return code
	}
	r := &ctlResult{Type: "result", Op: op.name, Module: id.String()}
	err := func() error {
		conn, err := e.dial(nil)
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(e.ctx, common.timeout)
		defer cancel()
		return explain(run(ctx, &control.Client{Conn: conn, ID: id}, r), id, common.timeout)
	}()
	r.Time, r.OK = timestamp(time.Now()), err == nil
	if err != nil {
		r.What, r.Stats, r.Burst, r.Error = "", nil, nil, err.Error()
	}
	switch {
	case common.json:
		_ = json.NewEncoder(e.stdout).Encode(r)
	case err != nil:
	case r.raw != nil:
		printStats(e.stdout, r.raw)
	default:
		fmt.Fprintln(e.stdout, r.What)
	}
	if err != nil {
		return e.fail(name, err)
	}
	return 0
}

func printStats(w io.Writer, st *control.Stats) {
	fmt.Fprintf(w, "echo: received %d, replied %d, invalid %d\n", st.Received, st.Replied, st.Invalid)
	fmt.Fprintf(w, "control: received %d, invalid %d, refused %d\n", st.CtlReceived, st.CtlInvalid, st.CtlRefused)
	fmt.Fprintf(w, "further ids: received %d, invalid %d; timer ticks %d; notifications %d\n",
		st.ExtraReceived, st.ExtraInvalid, st.TimerTicks, st.Notifications)
	for i, e := range st.Extra {
		id := connector.ID{Idx: e.Idx, Val: e.Val}
		switch {
		case e.Used != 0:
			fmt.Fprintf(w, "further id %s in slot %d: received %d, invalid %d\n", id, i, e.Received, e.Invalid)
		case e.Received != 0 || e.Invalid != 0:
			fmt.Fprintf(w, "further id %s, unregistered, in slot %d: received %d, invalid %d\n", id, i, e.Received, e.Invalid)
		}
	}
	fmt.Fprintf(w, "late replies: pending %d (%d bytes, at most %d), dropped %d (their requester's socket closed)\n",
		st.LatePending, st.LateBytes, st.LateBytesMax, st.LateDropped)
	fmt.Fprintf(w, "allocations %d, frees %d\n", st.Allocs, st.Frees)
	for _, ec := range control.SendErrors(st) {
		fmt.Fprintf(w, "send error %s (%d): %d\n", ec.Errno.Error(), int(ec.Errno), ec.Count)
	}
	for g, d := range st.Dests {
		if d.Sent == 0 {
			continue
		}
		fmt.Fprintf(w, "%-9s sent %d: ok %d, ESRCH %d, EAGAIN %d, ECONNREFUSED %d, ENOMEM %d, other %d\n",
			destName(g), d.Sent, d.Ok, d.Esrch, d.Eagain, d.Econnrefused, d.Enomem, d.Other)
	}
}

func ctlBurst(fs *flag.FlagSet) (func() error, ctlRun) {
	group := fs.Int64("g", 0, fmt.Sprintf("group to send to (1 to %d)", control.BurstGroups.Max))
	port := fs.Int64("port", 0, "port to send to, if no group")
	n := fs.Int64("n", 100, fmt.Sprintf("messages (%d to %d)", control.BurstCounts.Min, control.BurstCounts.Max))
	size := fs.Int64("s", wire.SizeofBcast, fmt.Sprintf("bytes of data per message (%d to %d)", control.BurstSizes.Min, control.BurstSizes.Max))
	check := func() error {
		if err := checkRanges(inRange("g", *group, control.BurstGroups), check{"port", *port, 0, maxUint32},
			inRange("n", *n, control.BurstCounts), inRange("s", *size, control.BurstSizes)); err != nil {
			return err
		}
		if (*group == 0) == (*port == 0) {
			return errors.New("give one of -g and -port")
		}
		return nil
	}
	return check, func(ctx context.Context, c *control.Client, r *ctlResult) error {
		res, err := c.Burst(ctx, wire.Burst{Group: uint32(*group), Portid: uint32(*port), Count: uint32(*n), Size: uint32(*size)})
		if err != nil {
			return err
		}
		r.Burst = &burst{FirstSeq: res.Seq, Count: res.Count, OK: res.Ok, Failed: res.Failed}
		r.What = fmt.Sprintf("burst: %d messages, seq %d to %d: %d sent, %d failed", res.Count, res.Seq, res.Seq+res.Count-1, res.Ok, res.Failed)
		if res.Failed > 0 {
			r.What += " (cnctl ctl stats says how)"
		}
		if res.Count == 0 {
			r.What = "burst: no messages"
		}
		return nil
	}
}

func ctlTimerStart(fs *flag.FlagSet) (func() error, ctlRun) {
	group := fs.Int64("g", 0, fmt.Sprintf("group to broadcast to (%d to %d)", control.TimerGroups.Min, control.TimerGroups.Max))
	period := time.Second
	fs.Var(seconds{&period}, "period", fmt.Sprintf("time between broadcasts, in seconds or as a duration (%v to %v)",
		msDuration(control.TimerPeriods.Min), msDuration(control.TimerPeriods.Max)))
	check := func() error {
		if err := checkRanges(inRange("g", *group, control.TimerGroups)); err != nil {
			return err
		}
		return inMilliseconds("period", period, control.TimerPeriods)
	}
	return check, func(ctx context.Context, c *control.Client, r *ctlResult) error {
		r.What = fmt.Sprintf("timer broadcasts to group %d every %v", *group, period)
		return c.TimerStart(ctx, uint32(*group), period)
	}
}

func ctlID(fs *flag.FlagSet, what string, do func(*control.Client, context.Context, connector.ID) error) (func() error, ctlRun) {
	s := fs.String("id", "", "the id, as idx:val")
	var id connector.ID
	check := func() (err error) {
		id, err = connector.ParseID(*s)
		return err
	}
	return check, func(ctx context.Context, c *control.Client, r *ctlResult) error {
		r.What = fmt.Sprintf("%sed %s", what, id)
		return do(c, ctx, id)
	}
}

func ctlEchoMode(fs *flag.FlagSet) (func() error, ctlRun) {
	mode := fs.String("mode", "normal", "normal, twice, wrong-ack, delay or none")
	count := fs.Int64("count", 1, fmt.Sprintf("requests to answer so (%d to %d)", control.EchoCounts.Min, control.EchoCounts.Max))
	var delay time.Duration
	fs.Var(seconds{&delay}, "delay", fmt.Sprintf("with -mode delay: how late, in seconds or as a duration (up to %v)", msDuration(control.EchoDelays.Max)))
	var m control.EchoMode
	check := func() (err error) {
		if err := checkRanges(inRange("count", *count, control.EchoCounts)); err != nil {
			return err
		}
		if err := inMilliseconds("delay", delay, control.EchoDelays); err != nil {
			return err
		}
		m, err = control.ParseEchoMode(*mode)
		return err
	}
	return check, func(ctx context.Context, c *control.Client, r *ctlResult) error {
		r.What = fmt.Sprintf("the next %d echo requests are answered: %s", *count, *mode)
		return c.SetEchoMode(ctx, m, uint32(*count), delay)
	}
}
