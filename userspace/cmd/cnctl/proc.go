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
	"github.com/cnlab/cnlab/userspace/proc"
)

const procSynopsis = `proc [-e fork,exec,exit,...] [-c count] [-timeout d] [-rcvbuf bytes [-force]] [-json]

Prints the kernel's process events (the proc connector, cn_proc), one line
an event, like forkstat: time since boot, event, pid, parent pid, and what
changed (the exec'd command line from /proc while the process is there, the
new comm, the exit status). -e picks the types: in the kernel from 6.6
(struct proc_input), in cnctl before; the first line says which. "GAP"
lines name the seqs a CPU's events skipped, "OVERRUN" the socket's
overflows (ENOBUFS), "FORGED" a message on the group from a sender other
than the kernel (dropped). A summary follows on exit. Before 6.6 listening needs
CAP_NET_ADMIN; from 6.6 anyone may.`

func runProc(e *env, args []string) int {
	fs := e.newFlags("proc", procSynopsis)
	events := fs.String("e", "all", "event types, comma separated: fork, exec, uid, gid, sid, ptrace, comm, coredump, exit, nonzero-exit, all")
	rcvbuf := fs.Int64("rcvbuf", 0, "receive buffer in bytes (SO_RCVBUF); 0 keeps the default")
	force := fs.Bool("force", false, "set the receive buffer with SO_RCVBUFFORCE (needs CAP_NET_ADMIN)")
	count := fs.Int64("c", 0, "stop after this many events (0: until interrupted)")
	var timeout time.Duration
	fs.Var(seconds{&timeout}, "timeout", "stop after this long, in seconds or as a duration (0: until interrupted)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if code, done := e.parse(fs, args); done {
		return code
	}
	if code, done := e.noArgs(fs); done {
		return code
	}
	if err := checkRanges(check{"c", *count, 0, 1<<63 - 1}, check{"rcvbuf", *rcvbuf, 0, 1<<31 - 1}); err != nil {
		return e.fail("proc", err)
	}
	if err := checkDuration("timeout", timeout, 0); err != nil {
		return e.fail("proc", err)
	}
	what, err := proc.ParseWhat(*events)
	if err != nil {
		return e.fail("proc", fmt.Errorf("-e: %w", err))
	}
	conn, err := e.dial(&connector.Config{Groups: []uint32{proc.Group}, ReadBuffer: int(*rcvbuf), ForceReadBuffer: *force})
	if err != nil {
		return e.fail("proc", err)
	}
	defer conn.Close()
	c := proc.New(conn)
	if err := c.Subscribe(e.ctx, what); err != nil {
		return e.fail("proc", err)
	}
	defer c.Close()

	ctx := e.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	p := &procPrinter{w: e.stdout, json: *asJSON, cache: newProcCache(false)}
	p.subscribed(what, c.KernelFilter())
	var n int64
	for *count == 0 || n < *count {
		ev, err := c.Receive(ctx)
		var gap *proc.GapError
		var forged *proc.ForgedError
		switch {
		case err == nil:
			n++
			p.event(&ev)
		case errors.As(err, &gap):
			p.gap(gap)
		case errors.Is(err, proc.ErrOverrun):
			p.overrun()
		case errors.As(err, &forged):
			p.forged(forged)
		case errors.Is(err, proc.ErrMalformed), errors.Is(err, proc.ErrUnknownEvent):
			p.malformed(err)
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			p.summary(c.Stats())
			return 0
		default:
			p.summary(c.Stats())
			return e.fail("proc", err)
		}
	}
	p.summary(c.Stats())
	return 0
}

// procPrinter prints cnctl proc's lines, or its JSON objects.
type procPrinter struct {
	w     io.Writer
	json  bool
	cache *procCache
}

// procJSON is one line of cnctl proc -json. Type is "subscribed", "event",
// "gap", "overrun", "malformed" or "summary"; the other fields are those of
// the type.
type procJSON struct {
	Type string `json:"type"`
	// subscribed
	Events string `json:"events,omitempty"`
	Filter string `json:"filter,omitempty"` // "kernel", "client" or "none"
	// event
	Event      string `json:"event,omitempty"`
	TimeNS     int64  `json:"time_ns,omitempty"` // since boot
	CPU        *int   `json:"cpu,omitempty"`
	Seq        *int64 `json:"seq,omitempty"`
	PID        int32  `json:"pid,omitempty"`
	TGID       int32  `json:"tgid,omitempty"`
	ParentPID  int32  `json:"parent_pid,omitempty"`
	ParentTGID int32  `json:"parent_tgid,omitempty"`
	TracerPID  int32  `json:"tracer_pid,omitempty"`
	TracerTGID int32  `json:"tracer_tgid,omitempty"`
	Real       *int64 `json:"real_id,omitempty"`
	Effective  *int64 `json:"effective_id,omitempty"`
	Comm       string `json:"comm,omitempty"`
	Cmdline    string `json:"cmdline,omitempty"`
	ExitCode   *int   `json:"exit_code,omitempty"`
	ExitSignal *int   `json:"exit_signal,omitempty"`
	Signal     string `json:"signal,omitempty"`
	CoreDumped bool   `json:"core_dumped,omitempty"`
	// gap
	First  *int64 `json:"first,omitempty"`
	Last   *int64 `json:"last,omitempty"`
	Missed uint64 `json:"missed,omitempty"`
	Error  string `json:"error,omitempty"`
	// forged: the sender's port
	Port *int64 `json:"port,omitempty"`
	// summary
	ByType map[string]uint64 `json:"by_type,omitempty"`
	// Gaps is left out when GapsTracked is false: where the kernel
	// filters, the events it keeps back use seqs too.
	Gaps        *uint64 `json:"missed_in_gaps,omitempty"`
	GapsTracked *bool   `json:"gaps_tracked,omitempty"`
	Overruns    *uint64 `json:"overruns,omitempty"`
	Filtered    *uint64 `json:"filtered_in_client,omitempty"`
	Forged      *uint64 `json:"forged,omitempty"`
}

func (p *procPrinter) emit(j procJSON) {
	b, _ := json.Marshal(j)
	fmt.Fprintf(p.w, "%s\n", b)
}

func (p *procPrinter) subscribed(what proc.What, kernel bool) {
	where := "client"
	switch {
	case what == proc.All:
		where = "none"
	case kernel:
		where = "kernel"
	}
	if p.json {
		p.emit(procJSON{Type: "subscribed", Events: what.String(), Filter: where})
		return
	}
	switch {
	case what == proc.All:
		fmt.Fprintf(p.w, "# every process event\n")
	case kernel:
		fmt.Fprintf(p.w, "# %s, filtered in the kernel (struct proc_input, 6.6+)\n", what)
	default:
		fmt.Fprintf(p.w, "# %s, filtered in cnctl: this kernel ignores struct proc_input (before 6.6) and sends every event\n", what)
	}
	fmt.Fprintf(p.w, "%-14s %-8s %7s %7s %s\n", "time", "event", "pid", "ppid", "info")
}

func ptr[T any](v T) *T { return &v }

func (p *procPrinter) event(e *proc.Event) {
	j := procJSON{Type: "event", Event: e.What.String(), TimeNS: int64(e.Timestamp), CPU: ptr(int(e.CPU)), Seq: ptr(int64(e.Seq)),
		PID: e.PID, TGID: e.TGID, ParentPID: e.ParentPID, ParentTGID: e.ParentTGID}
	pi := p.cache.update(e)
	ppid := e.ParentTGID
	if ppid == 0 {
		ppid = pi.ppid
	}
	var info string
	switch e.What {
	case proc.Fork:
		if e.PID != e.TGID {
			info = fmt.Sprintf("thread %d of %d", e.PID, e.TGID)
		} else {
			info = "child " + strconv.Itoa(int(e.TGID))
		}
		if c := p.cache.get(e.ParentTGID).comm; c != "" {
			info += " from " + c
		}
	case proc.Exec:
		j.Cmdline = pi.cmdline
		info = j.Cmdline
		if info == "" {
			info = "(gone: no /proc/" + strconv.Itoa(int(e.PID)) + "/cmdline)"
		}
	case proc.UID, proc.GID:
		j.Real, j.Effective = ptr(int64(e.Real)), ptr(int64(e.Effective))
		info = fmt.Sprintf("real %d effective %d", e.Real, e.Effective)
	case proc.SID:
		info = "new session"
	case proc.Ptrace:
		j.TracerPID, j.TracerTGID = e.TracerPID, e.TracerTGID
		if e.TracerTGID == 0 {
			info = "detached"
		} else {
			info = fmt.Sprintf("traced by %d", e.TracerTGID)
		}
	case proc.Comm:
		j.Comm = e.Comm
		info = "comm " + e.Comm
	case proc.Coredump:
		info = "dumping core"
	case proc.Exit:
		st := e.Status()
		j.ExitSignal = ptr(int(e.ExitSignal))
		switch {
		case st.Signaled():
			j.Signal = st.Signal().String()
			j.CoreDumped = st.CoreDump()
			info = "killed by " + j.Signal
			if j.CoreDumped {
				info += " (core dumped)"
			}
		default:
			j.ExitCode = ptr(st.ExitStatus())
			info = "exit " + strconv.Itoa(st.ExitStatus())
		}
		if e.PID != e.TGID {
			info += fmt.Sprintf(" (thread %d)", e.PID)
		}
	}
	if e.What == proc.Exit {
		p.cache.forget(e.PID)
	}
	if p.json {
		p.emit(j)
		return
	}
	pp := "-"
	if ppid != 0 {
		pp = strconv.Itoa(int(ppid))
	}
	fmt.Fprintf(p.w, "%14.6f %-8s %7d %7s %s\n", e.Timestamp.Seconds(), e.What, e.TGID, pp, info)
}

func (p *procPrinter) gap(g *proc.GapError) {
	if p.json {
		p.emit(procJSON{Type: "gap", CPU: ptr(int(g.CPU)), First: ptr(int64(g.Seqs.First)), Last: ptr(int64(g.Seqs.Last)), Missed: g.Seqs.Len()})
		return
	}
	fmt.Fprintf(p.w, "GAP: cpu %d missed seq %s (%d events)\n", g.CPU, g.Seqs, g.Seqs.Len())
}

func (p *procPrinter) overrun() {
	if p.json {
		p.emit(procJSON{Type: "overrun"})
		return
	}
	fmt.Fprintf(p.w, "OVERRUN: the receive queue overflowed (ENOBUFS): events were lost\n")
}

// forged reports a message on the group from a sender other than the
// kernel.
func (p *procPrinter) forged(f *proc.ForgedError) {
	if p.json {
		p.emit(procJSON{Type: "forged", Port: ptr(int64(f.Port)), Seq: ptr(int64(f.Seq)), Error: f.Error()})
		return
	}
	fmt.Fprintf(p.w, "FORGED: %v\n", f)
}

func (p *procPrinter) malformed(err error) {
	if p.json {
		p.emit(procJSON{Type: "malformed", Error: err.Error()})
		return
	}
	fmt.Fprintf(p.w, "MALFORMED: %v\n", err)
}

func (p *procPrinter) summary(st proc.Stats) {
	if p.json {
		by := map[string]uint64{}
		for w, n := range st.Events {
			by[w.String()] = n
		}
		j := procJSON{Type: "summary", ByType: by, GapsTracked: &st.GapsTracked, Overruns: &st.Overruns, Filtered: &st.Filtered, Forged: &st.Forged}
		if st.GapsTracked {
			j.Gaps = &st.Missed
		}
		p.emit(j)
		return
	}
	var parts []string
	var total uint64
	for _, w := range []proc.What{proc.Fork, proc.Exec, proc.UID, proc.GID, proc.SID, proc.Ptrace, proc.Comm, proc.Coredump, proc.Exit} {
		if n := st.Events[w]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, w))
			total += n
		}
	}
	gaps := fmt.Sprintf("%d missed in gaps", st.Missed)
	if !st.GapsTracked {
		gaps = "gaps not tracked (the kernel filters, and the events it keeps back use seqs too)"
	}
	forged := ""
	if st.Forged > 0 {
		forged = fmt.Sprintf(", %d forged (not from the kernel: dropped)", st.Forged)
	}
	fmt.Fprintf(p.w, "--- %d process events: %s; %s, %d overruns, %d filtered in cnctl%s ---\n",
		total, strings.Join(parts, ", "), gaps, st.Overruns, st.Filtered, forged)
}
