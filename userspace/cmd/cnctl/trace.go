package main

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/probe"
	"golang.org/x/sys/unix"
)

// tracer is what cnctl trace reads records from: the eBPF probes, or a
// fake in host tests.
type tracer interface {
	Read(deadline time.Time) (any, error)
	Skips() (probe.Skips, error)
	Counters() (map[connector.ID]probe.Counters, error)
	Close() error
}

// startProbes attaches the eBPF probes, relocated against btfPath's BTF if
// given.
func startProbes(f probe.Filter, btfPath string) (tracer, error) {
	p, err := probe.StartBTF(f, btfPath)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func runTrace(e *env, args []string) int {
	fs := e.newFlags("trace", "trace [-all] [-inbound] [-id idx:val] [-port p] [-g group] [-seq lo-hi] [-c count] [-timeout d] [-json] [-btf file] [-o file]\n\nShows each message the kernel did not deliver to every receiver it was sent to,\nwith the port and why; with -all, every message and each socket it reached\n(eBPF probes; root, in a guest). A summary per id and outcome on exit.")
	all := fs.Bool("all", false, "record every message and every socket it reached, not only losses (costs more)")
	inbound := fs.Bool("inbound", false, "also record what user space sends to the kernel (on with -all)")
	idFlag := fs.String("id", "", "only this id, as idx:val")
	port := fs.Int64("port", 0, "only sends to this port or that reached or missed it there, and messages from it")
	group := fs.Int64("g", 0, "only sends to this group")
	seqs := fs.String("seq", "", "only seqs in this range, lo-hi (both included), or one seq")
	count := fs.Int64("c", 0, "stop after this many records (0: until interrupted)")
	var timeout time.Duration
	fs.Var(seconds{&timeout}, "timeout", "stop after this long, in seconds or as a duration (0: until interrupted)")
	asJSON := fs.Bool("json", false, "print one JSON object per record")
	btfPath := fs.String("btf", "", "relocate the probes against this BTF file instead of the running kernel's (checked against it first)")
	outPath := fs.String("o", "", "write the records to this file instead (gzip-compressed if it ends in .gz); it appears once the probes are attached")
	var f probe.Filter
	if code, done := e.parseFlags(fs, args, noArguments,
		func() error {
			return checkRanges(check{"c", *count, 0, 1<<63 - 1}, check{"port", *port, 0, maxUint32}, check{"g", *group, 0, connector.Groups})
		},
		func() error { return checkDuration("timeout", timeout, 0) },
		func() error {
			if *idFlag == "" {
				return nil
			}
			id, err := connector.ParseID(*idFlag)
			if err != nil {
				return err
			}
			f.ID = &id
			return nil
		},
		func() error {
			if *seqs == "" {
				return nil
			}
			r, err := probe.ParseSeqRange(*seqs)
			if err != nil {
				return fmt.Errorf("-seq: %w", err)
			}
			f.Seqs = &r
			return nil
		},
	); done {
		return code
	}
	f.Mode, f.Inbound = probe.ModeLosses, *inbound || *all
	if *all {
		f.Mode = probe.ModeAll
	}
	f.PortID, f.Group = uint32(*port), uint32(*group)
	p, err := e.startTrace(f, *btfPath)
	if err != nil {
		return e.fail("trace", err)
	}
	defer p.Close()

	ctx := e.ctx
	out := e.stdout
	if *outPath != "" {
		f, err := os.Create(*outPath)
		if err != nil {
			return e.fail("trace", err)
		}
		defer f.Close()
		out = f
		if strings.HasSuffix(*outPath, ".gz") {
			zw := gzip.NewWriter(f)
			defer zw.Close()
			out = zw
		}
	}
	var end time.Time
	if timeout > 0 {
		end = time.Now().Add(timeout)
	}
	enc := json.NewEncoder(out)
	// The records' times are the kernel's CLOCK_MONOTONIC: since boot,
	// less any time suspended. Their wall clock is counted from boot.
	boot := time.Now().Add(-monotonicNow())
	if !*asJSON {
		fmt.Fprintln(out, "tracing connector messages; Ctrl-C to stop")
	}
	outcomes := map[string]map[string]int{} // id -> outcome -> count
	n := 0
	// Once interrupted or out of time, what is still in the ring is read
	// before stopping: nothing recorded is left behind.
	// (At most 30s of it, should traffic go on.)
	var drainStart time.Time
	draining := func() bool {
		if drainStart.IsZero() && (ctx.Err() != nil || (!end.IsZero() && time.Now().After(end))) {
			drainStart = time.Now()
		}
		return !drainStart.IsZero()
	}
	for *count == 0 || int64(n) < *count {
		deadline := time.Now().Add(200 * time.Millisecond)
		if draining() {
			if time.Since(drainStart) > 30*time.Second {
				break
			}
			deadline = time.Now().Add(100 * time.Millisecond)
		}
		ev, err := p.Read(deadline)
		if errors.Is(err, probe.ErrTimeout) {
			if draining() {
				break
			}
			continue
		}
		if err != nil {
			return e.fail("trace", err)
		}
		n++
		switch e := ev.(type) {
		case *probe.Record:
			tally(outcomes, e.ID.String(), string(e.Outcome()))
			if *asJSON {
				_ = enc.Encode(toTraceSend(e, boot.Add(e.Time)))
			} else {
				fmt.Fprintln(out, e)
			}
		case *probe.Inbound:
			tally(outcomes, e.ID.String(), "from user space")
			if *asJSON {
				_ = enc.Encode(toTraceInbound(e, boot.Add(e.Time)))
			} else {
				fmt.Fprintln(out, e)
			}
		}
	}
	skips, err := p.Skips()
	if err != nil {
		return e.fail("trace", err)
	}
	lost := skips.Total()
	counts, err := p.Counters()
	if err != nil {
		return e.fail("trace", err)
	}
	if *asJSON {
		_ = enc.Encode(toTraceSummary(n, skips, outcomes, counts))
		if *outPath != "" {
			fmt.Fprintf(e.stdout, "trace: %d records, %d not recorded, in %s\n", n, lost, *outPath)
		}
		return 0
	}
	fmt.Fprintf(out, "--- %d records, %d not recorded (%+v)\n", n, lost, skips)
	ids := make([]string, 0, len(outcomes))
	for id := range outcomes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		var parts []string
		for o, c := range outcomes[id] {
			parts = append(parts, fmt.Sprintf("%s %d", o, c))
		}
		sort.Strings(parts)
		fmt.Fprintf(out, "%-9s %s\n", id, strings.Join(parts, ", "))
	}
	fmt.Fprintln(out, "--- every send, counted in the kernel:")
	for _, line := range countersLines(counts) {
		fmt.Fprintln(out, line)
	}
	if *outPath != "" {
		fmt.Fprintf(e.stdout, "trace: %d records, %d not recorded, in %s\n", n, lost, *outPath)
	}
	return 0
}

// countersLines is the probes' per-id counts, one id a line, sorted.
func countersLines(counts map[connector.ID]probe.Counters) []string {
	var lines []string
	for id, c := range counts {
		var errs []string
		for errno, k := range c.ByErrno {
			name := "ok"
			if errno != 0 {
				name = errno.Error()
			}
			errs = append(errs, fmt.Sprintf("%s %d", name, k))
		}
		sort.Strings(errs)
		lines = append(lines, fmt.Sprintf("%-9s sent %d (%s), failed %d; sockets: dropped %d, unreached %d, delivered %d; from user space %d",
			id, c.Sent, strings.Join(errs, ", "), c.Failed, c.Dropped, c.Unreached, c.Delivered, c.Inbound))
	}
	sort.Strings(lines)
	return lines
}

// monotonicNow is CLOCK_MONOTONIC, the clock of the probes' records.
func monotonicNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func tally(m map[string]map[string]int, id, outcome string) {
	if m[id] == nil {
		m[id] = map[string]int{}
	}
	m[id][outcome]++
}
