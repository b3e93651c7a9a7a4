package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/proc"
	"golang.org/x/sys/unix"
)

const procSynopsis = `proc [-e fork,exec,exit,...] [-S] [-q] [-u] [-c count] [-timeout d] [-rcvbuf bytes [-force]] [-json]

Prints the kernel's process events (the proc connector, cn_proc), one line
an event, like forkstat: time since boot, event, pid, parent pid, what
happened, a process's lifetime at its exit, and the process: its command
line (read from /proc at its exec, or inherited at its fork), or its name in
[brackets] for a kernel thread. A thread's creation shows as "clone". -u
adds the user, -S a table of events per program on exit, -q prints that
table and the summary only. -e picks the types, forkstat's names (core,
ptrce, clone: threads only) taken too: in the kernel from 6.6 (struct
proc_input), in cnctl before; the first line says which. "GAP" lines name
the seqs a CPU's events skipped, "OVERRUN" the socket's overflows (ENOBUFS),
"FORGED" a message on the group from a sender other than the kernel
(dropped). A summary follows on exit. Before 6.6 listening needs
CAP_NET_ADMIN; from 6.6 anyone may.`

func runProc(e *env, args []string) int {
	fs := e.newFlags("proc", procSynopsis)
	events := fs.String("e", "all", "event types, comma separated: fork, clone (threads only), exec, uid, gid, sid, ptrace, comm, coredump, exit, nonzero-exit, all; forkstat's core and ptrce too")
	rcvbuf := fs.Int64("rcvbuf", 0, "receive buffer in bytes (SO_RCVBUF); 0 keeps the default")
	force := fs.Bool("force", false, "set the receive buffer with SO_RCVBUFFORCE (needs CAP_NET_ADMIN)")
	count := fs.Int64("c", 0, "stop after this many events (0: until interrupted)")
	var timeout time.Duration
	fs.Var(seconds{&timeout}, "timeout", "stop after this long, in seconds or as a duration (0: until interrupted)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	table := fs.Bool("S", false, "on exit, print a table of the events of each program")
	quiet := fs.Bool("q", false, "print no line per event: only the -S table and the summary")
	users := fs.Bool("u", false, "show each process's user (its effective uid, named from the password database)")
	var sel procEvents
	if code, done := e.parseFlags(fs, args, noArguments,
		func() error {
			return checkRanges(check{"c", *count, 0, 1<<63 - 1}, check{"rcvbuf", *rcvbuf, 0, 1<<31 - 1})
		},
		func() error { return checkDuration("timeout", timeout, 0) },
		func() (err error) {
			if sel, err = parseProcEvents(*events); err != nil {
				return fmt.Errorf("-e: %w", err)
			}
			return nil
		},
	); done {
		return code
	}
	conn, err := e.dial(&connector.Config{Groups: []uint32{proc.Group}, ReadBuffer: int(*rcvbuf), ForceReadBuffer: *force})
	if err != nil {
		return e.fail("proc", err)
	}
	defer conn.Close()
	c := proc.New(conn)
	if err := c.Subscribe(e.ctx, sel.what); err != nil {
		return e.fail("proc", err)
	}
	defer c.Close()

	ctx := e.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	p := &procPrinter{w: e.stdout, json: *asJSON, quiet: *quiet, users: *users, cache: newProcCache(*users)}
	if *table || *quiet {
		p.stats = newProcStats()
	}
	p.subscribed(sel, c.KernelFilter())
	end := func() {
		p.table()
		p.summary(c.Stats())
	}
	var n int64
	for *count == 0 || n < *count {
		ev, err := c.Receive(ctx)
		var gap *proc.GapError
		var forged *proc.ForgedError
		switch {
		case err == nil:
			if !sel.wants(&ev) {
				p.threadsOnly++
				continue
			}
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
			end()
			return 0
		default:
			end()
			return e.fail("proc", err)
		}
	}
	end()
	return 0
}

// procEvents is what -e asked for: the types to subscribe to, and whether
// of the forks only threads' (forkstat's clone without its fork).
type procEvents struct {
	what        proc.What
	threadsOnly bool
}

// procAliases are forkstat's names for the types proc.ParseWhat names
// otherwise.
var procAliases = map[string]string{"core": "coredump", "ptrce": "ptrace", "clone": "fork"}

// parseProcEvents parses -e: proc.ParseWhat's names, and forkstat's. Its
// clone is a fork that makes a thread: "clone" alone keeps only those,
// "fork" (every fork, threads too) with it or without keeps all.
func parseProcEvents(s string) (procEvents, error) {
	var names []string
	clone, fork := false, false
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		switch f {
		case "clone":
			clone = true
		case "fork", "all":
			fork = true
		}
		if a, ok := procAliases[f]; ok {
			f = a
		}
		names = append(names, f)
	}
	w, err := proc.ParseWhat(strings.Join(names, ","))
	if err != nil {
		return procEvents{}, fmt.Errorf("%w (or forkstat's core, ptrce, clone)", err)
	}
	return procEvents{what: w, threadsOnly: clone && !fork}, nil
}

// wants reports whether an event Receive returned is one -e asked for: a
// fork that makes a process is not, when only clones were.
func (pe procEvents) wants(e *proc.Event) bool {
	return !pe.threadsOnly || e.What != proc.Fork || e.PID != e.TGID
}

// procPrinter prints cnctl proc's lines, or its JSON objects.
type procPrinter struct {
	w     io.Writer
	json  bool
	quiet bool // no line per event, gap, overrun, forgery
	users bool // a user column
	cache *procCache
	stats *procStats // nil without -S or -q
	// threadsOnly counts the forks of processes dropped because -e
	// asked for clones only.
	threadsOnly uint64
	userNames   map[int64]string
}

// procJSON is one line of cnctl proc -json. Type is "subscribed", "event",
// "gap", "overrun", "forged", "malformed", "stats" (a row of -S) or
// "summary"; the other fields are those of the type.
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
	// Process is how the text shows the task (its command line, or
	// [comm] for a kernel thread); Kthread says it is a kernel thread.
	Process string `json:"process,omitempty"`
	Kthread bool   `json:"kthread,omitempty"`
	// UID and User are the task's effective uid and its name, when known.
	UID  *int64 `json:"uid,omitempty"`
	User string `json:"user,omitempty"`
	// LifetimeNS is an exit's time since the task began, when known.
	LifetimeNS *int64 `json:"lifetime_ns,omitempty"`
	// gap
	First  *int64 `json:"first,omitempty"`
	Last   *int64 `json:"last,omitempty"`
	Missed uint64 `json:"missed,omitempty"`
	Error  string `json:"error,omitempty"`
	// forged: the sender's port
	Port *int64 `json:"port,omitempty"`
	// stats (Process, and ByType) and summary
	ByType map[string]uint64 `json:"by_type,omitempty"`
	Total  *uint64           `json:"total,omitempty"`
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

// subscribed prints what was asked for and who filters it, and the
// column headings.
func (p *procPrinter) subscribed(sel procEvents, kernel bool) {
	what := sel.what
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
	if sel.threadsOnly {
		fmt.Fprintf(p.w, "# forks of threads only (clone): those of processes are dropped in cnctl\n")
	}
	if p.quiet {
		return
	}
	user := ""
	if p.users {
		user = fmt.Sprintf(" %-8s", "user")
	}
	fmt.Fprintf(p.w, "%-14s %-8s %7s %7s%s %-24s %9s %s\n", "time", "event", "pid", "ppid", user, "info", "lifetime", "process")
}

func ptr[T any](v T) *T { return &v }

// label is the event's name on a line: forkstat's "clone" for a fork that
// makes a thread.
func label(e *proc.Event) string {
	if e.What == proc.Fork && e.PID != e.TGID {
		return "clone"
	}
	return e.What.String()
}

// signalName is a signal's name, as SIGKILL, or its number for one with no
// name (a real-time signal).
func signalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// user is the name of uid, or its number; "-" when unknown.
func (p *procPrinter) user(uid int64) string {
	if uid < 0 {
		return "-"
	}
	if n, ok := p.userNames[uid]; ok {
		return n
	}
	n := lookupUser(uid)
	if p.userNames == nil {
		p.userNames = map[int64]string{}
	}
	p.userNames[uid] = n
	return n
}

// lookupUser names a uid from the password database, or gives its number:
// user.LookupId, or a test's fake.
var lookupUser = func(uid int64) string {
	s := strconv.FormatInt(uid, 10)
	if u, err := user.LookupId(s); err == nil {
		return u.Username
	}
	return s
}

// event prints one event's line (or JSON object), after the cache has
// taken it in, and counts it for -S.
func (p *procPrinter) event(e *proc.Event) {
	j := procJSON{Type: "event", Event: label(e), TimeNS: int64(e.Timestamp), CPU: ptr(int(e.CPU)), Seq: ptr(int64(e.Seq)),
		PID: e.PID, TGID: e.TGID, ParentPID: e.ParentPID, ParentTGID: e.ParentTGID}
	var parent string // a fork's parent, for -S, before the child is cached
	if e.What == proc.Fork && p.stats != nil {
		parent = p.cache.get(e.ParentTGID).short()
	}
	pi := p.cache.update(e)
	ppid := e.ParentTGID
	if ppid == 0 {
		ppid = pi.ppid
	}
	var info string
	switch e.What {
	case proc.Fork:
		if e.PID != e.TGID {
			info = fmt.Sprintf("thread %d", e.PID) // the pid column has its process
		} else {
			info = "child"
		}
	case proc.Exec:
		j.Cmdline = pi.cmdline
		if pi.cmdline == "" {
			info = "gone: no cmdline"
		}
	case proc.UID, proc.GID:
		j.Real, j.Effective = ptr(int64(e.Real)), ptr(int64(e.Effective))
		info = fmt.Sprintf("real %d effective %d", e.Real, e.Effective)
		if e.What == proc.UID && p.users {
			info = fmt.Sprintf("real %s effective %s", p.user(int64(e.Real)), p.user(int64(e.Effective)))
		}
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
			info = "killed by " + signalName(st.Signal())
			if j.CoreDumped {
				info += " (core)"
			}
		default:
			j.ExitCode = ptr(st.ExitStatus())
			info = "exit " + strconv.Itoa(st.ExitStatus())
		}
		if e.PID != e.TGID {
			info += fmt.Sprintf(" (thread %d)", e.PID)
		}
	}
	lifetime := ""
	if e.What == proc.Exit && pi.known && e.Timestamp >= pi.start {
		d := e.Timestamp - pi.start
		j.LifetimeNS = ptr(int64(d))
		lifetime = fmt.Sprintf("%.3fs", d.Seconds())
	}
	name := pi.name()
	j.Process, j.Kthread = name, pi.kthread
	if pi.uid >= 0 {
		j.UID = ptr(pi.uid)
		if p.users {
			j.User = p.user(pi.uid)
		}
	}
	if p.stats != nil {
		p.stats.count(e, pi.short(), parent)
	}
	if e.What == proc.Exit {
		p.cache.forget(e.PID)
	}
	if p.quiet {
		return
	}
	if p.json {
		p.emit(j)
		return
	}
	pp := "-"
	if ppid != 0 {
		pp = strconv.Itoa(int(ppid))
	}
	user := ""
	if p.users {
		user = fmt.Sprintf(" %-8s", p.user(pi.uid))
	}
	fmt.Fprintf(p.w, "%14.6f %-8s %7d %7s%s %-24s %9s %s\n", e.Timestamp.Seconds(), label(e), e.TGID, pp, user, info, lifetime, name)
}

func (p *procPrinter) gap(g *proc.GapError) {
	if p.quiet {
		return
	}
	if p.json {
		p.emit(procJSON{Type: "gap", CPU: ptr(int(g.CPU)), First: ptr(int64(g.Seqs.First)), Last: ptr(int64(g.Seqs.Last)), Missed: g.Seqs.Len()})
		return
	}
	fmt.Fprintf(p.w, "GAP: cpu %d missed seq %s (%d events)\n", g.CPU, g.Seqs, g.Seqs.Len())
}

func (p *procPrinter) overrun() {
	if p.quiet {
		return
	}
	if p.json {
		p.emit(procJSON{Type: "overrun"})
		return
	}
	fmt.Fprintf(p.w, "OVERRUN: the receive queue overflowed (ENOBUFS): events were lost\n")
}

// forged reports a message on the group from a sender other than the
// kernel.
func (p *procPrinter) forged(f *proc.ForgedError) {
	if p.quiet {
		return
	}
	if p.json {
		p.emit(procJSON{Type: "forged", Port: ptr(int64(f.Port)), Seq: ptr(int64(f.Seq)), Error: f.Error()})
		return
	}
	fmt.Fprintf(p.w, "FORGED: %v\n", f)
}

func (p *procPrinter) malformed(err error) {
	if p.quiet {
		return
	}
	if p.json {
		p.emit(procJSON{Type: "malformed", Error: err.Error()})
		return
	}
	fmt.Fprintf(p.w, "MALFORMED: %v\n", err)
}

// summary prints the counts of what arrived. The forks of processes that
// -e clone dropped count as filtered in cnctl, not as forks.
func (p *procPrinter) summary(st proc.Stats) {
	st.Events[proc.Fork] -= p.threadsOnly
	st.Filtered += p.threadsOnly
	if p.json {
		by := map[string]uint64{}
		for w, n := range st.Events {
			if n > 0 {
				by[w.String()] = n
			}
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
