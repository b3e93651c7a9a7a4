package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/probe"
)

const benchSynopsis = `bench [-n count] [-s size] [-rounds r] [-ref path] [-W timeout] [-probes [-loopback]] [-id idx:val]

Times the echo round trip in alternating rounds: the C reference client
(-ref), the Go client's RequestInto without and with a per-request
context.WithTimeout, RequestInto with the Conn's request timeout,
and cnctl ping's own loop as a flood (ping -i 0 -q),
and prints each beside C. With -probes, what the eBPF probes add to the
Go round trip in each mode; with -loopback too, what they add to a UDP
and a TCP round trip on 127.0.0.1, other traffic than the connector's.
Run it in a guest with the module loaded.`

// benchClient is one way of doing round trips that bench times.
type benchClient struct {
	name string
	// round does n round trips and returns ns per round trip.
	round func(n int) (float64, error)
	ns    []float64
}

func runBench(e *env, args []string) int {
	fs := e.newFlags("bench", benchSynopsis)
	n := fs.Int64("n", 5000, "round trips per round (1 or more)")
	size := fs.Int64("s", 64, fmt.Sprintf("bytes of data per request (0 to %d)", connector.MaxData))
	rounds := fs.Int64("rounds", 21, "rounds per client, alternating between the clients (1 to 1000)")
	ref := fs.String("ref", "", "path of the C reference client (userspace/bench/cn_echo_ref.c); empty: Go only")
	idFlag := fs.String("id", control.DefaultEchoID.String(), "echo id, as idx:val")
	timeout := time.Second
	fs.Var(seconds{&timeout}, "W", "wait this long for each reply, in seconds or as a duration")
	procs := fs.Int("procs", 0, "set GOMAXPROCS to this (0: leave it as the runtime set it)")
	parts := fs.Bool("parts", false, "also time the parts of a request's cost alone: time.Now, context.WithTimeout and its cancel")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the Go rounds to this file (-: base64 on stdout, for a guest)")
	profileRate := fs.Int("cpuprofile-rate", 100, "samples per second of -cpuprofile")
	withProbes := fs.Bool("probes", false, "also measure the Go client with the eBPF probes attached in each mode (counters, losses, all), against without, in alternating rounds")
	withLoopback := fs.Bool("loopback", false, "with -probes, also measure what the probes cost other traffic: a UDP and a TCP round trip on 127.0.0.1 (both ends in cnctl), in the same rounds")
	loopbackN := fs.Int64("loopback-n", 1000, "with -loopback, round trips per round of each loopback load (1 or more; each costs about three echoes)")
	var id connector.ID
	if code, done := e.parseFlags(fs, args, noArguments,
		func() (err error) { id, err = connector.ParseID(*idFlag); return err },
		func() error {
			return checkRanges(check{"n", *n, 1, 1 << 31}, check{"s", *size, 0, connector.MaxData}, check{"rounds", *rounds, 1, 1000}, check{"loopback-n", *loopbackN, 1, 1 << 31})
		},
		func() error { return checkDuration("W", timeout, time.Microsecond) },
		func() error { return checkRanges(check{"procs", int64(*procs), 0, 1024}) },
		func() error {
			if *withLoopback && !*withProbes {
				return errors.New("-loopback measures what the probes cost other traffic: give -probes too")
			}
			return nil
		},
	); done {
		return code
	}
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}

	c, err := e.dial(nil)
	if err != nil {
		return e.fail("bench", err)
	}
	defer c.Close()
	payload := make([]byte, *size)
	// The warm-up has a deadline per request, so that a missing module
	// is reported, not waited for.
	if _, err := timedRounds(c, id, payload, int(*n)/10+1, timeout); err != nil {
		return e.fail("bench", explain(err, id, timeout))
	}

	clients := []*benchClient{
		{name: "Go RequestInto", round: func(k int) (float64, error) { return goRounds(c, id, payload, k) }},
		{name: "Go RequestInto, WithTimeout", round: func(k int) (float64, error) { return timedRounds(c, id, payload, k, timeout) }},
		{name: "Go RequestInto, SetRequestTimeout", round: func(k int) (float64, error) { return timeoutRounds(c, id, payload, k, timeout) }},
		{name: "cnctl ping -i 0 -q", round: func(k int) (float64, error) { return pingRound(e.ctx, c, id, payload, k, timeout) }},
	}
	var refClient *benchClient
	if *ref != "" {
		refClient = &benchClient{name: "C", round: func(k int) (float64, error) { return refRound(*ref, k, int(*size), id) }}
		clients = append([]*benchClient{refClient}, clients...)
	}
	var profile bytes.Buffer
	if *cpuProfile != "" {
		runtime.SetCPUProfileRate(*profileRate)
		if err := pprof.StartCPUProfile(&profile); err != nil {
			return e.fail("bench", err)
		}
	}
	for r := 0; r < int(*rounds); r++ {
		for _, cl := range clients {
			if cl == refClient && *cpuProfile != "" {
				pprof.StopCPUProfile()
			}
			ns, err := cl.round(int(*n))
			if cl == refClient && *cpuProfile != "" {
				runtime.SetCPUProfileRate(*profileRate)
				_ = pprof.StartCPUProfile(&profile)
			}
			if err != nil {
				return e.fail("bench", fmt.Errorf("%s: %w", cl.name, explain(err, id, timeout)))
			}
			cl.ns = append(cl.ns, ns)
		}
	}

	if *cpuProfile != "" {
		pprof.StopCPUProfile()
		if err := writeProfile(e.stdout, *cpuProfile, profile.Bytes()); err != nil {
			return e.fail("bench", err)
		}
	}
	w := e.stdout
	fmt.Fprintf(w, "echo round trip to %s, %d-byte payload, %d rounds of %d, clients alternating\n", id, *size, *rounds, *n)
	fmt.Fprintf(w, "%-28s %10s %10s %10s  %s\n", "client", "median ns", "min ns", "max ns", "x C (median of per-round ratios, min-max)")
	for _, cl := range clients {
		st := summarize(cl.ns)
		fmt.Fprintf(w, "%-28s %10.0f %10.0f %10.0f", cl.name, st.median, st.min, st.max)
		if refClient != nil && cl != refClient {
			ratios := make([]float64, len(cl.ns))
			for i := range cl.ns {
				// Each round's ratio compares runs made moments
				// apart, so that the emulator's and the host's
				// slow spells cancel out.
				ratios[i] = cl.ns[i] / refClient.ns[i]
			}
			st := summarize(ratios)
			fmt.Fprintf(w, "  %.2f (%.2f-%.2f)", st.median, st.min, st.max)
		}
		fmt.Fprintln(w)
	}
	if *parts {
		benchParts(w, int(*n), int(*rounds))
		if err := benchRaw(w, id, int(*size), int(*n), int(*rounds)); err != nil {
			return e.fail("bench", err)
		}
	}
	if *withProbes {
		var cNs float64
		if refClient != nil {
			cNs = median(refClient.ns)
		}
		loads := []*probeLoad{{name: "Go round trip", short: "Go", records: true,
			round: func(k int) (float64, error) { return goRounds(c, id, payload, k) }}}
		if *withLoopback {
			for _, network := range []string{"udp", "tcp"} {
				l, err := dialLoopback(network, int(*size), timeout)
				if err != nil {
					return e.fail("bench", err)
				}
				defer l.Close()
				loads = append(loads, &probeLoad{name: fmt.Sprintf("%s loopback round trip (%d a round)", strings.ToUpper(network), *loopbackN),
					short: strings.ToUpper(network), n: int(*loopbackN), round: l.rounds})
			}
		}
		if err := benchProbes(w, loads, int(*n), int(*rounds), cNs); err != nil {
			return e.fail("bench", err)
		}
	}
	return 0
}

// benchParts times, alone, what a request with a per-request timeout adds
// to RequestInto.
func benchParts(w io.Writer, n, rounds int) {
	parts := []struct {
		name string
		f    func()
	}{
		{"time.Now", func() { _ = time.Now() }},
		{"context.WithTimeout+cancel", func() {
			_, cancel := context.WithTimeout(context.Background(), time.Second)
			cancel()
		}},
	}
	fmt.Fprintf(w, "\nparts, alone, %d rounds of %d\n", rounds, n)
	for _, p := range parts {
		var ns []float64
		for r := 0; r < rounds; r++ {
			start := time.Now()
			for i := 0; i < n; i++ {
				p.f()
			}
			ns = append(ns, float64(time.Since(start).Nanoseconds())/float64(n))
		}
		st := summarize(ns)
		fmt.Fprintf(w, "%-28s %10.0f %10.0f %10.0f\n", p.name, st.median, st.min, st.max)
	}
}

// writeProfile writes a CPU profile to path, or with path "-" as one line of
// base64 on w, to be cut out of a guest's log.
func writeProfile(w io.Writer, path string, b []byte) error {
	if path != "-" {
		return os.WriteFile(path, b, 0o644)
	}
	_, err := fmt.Fprintf(w, "cpuprofile-base64: %s\n", base64.StdEncoding.EncodeToString(b))
	return err
}

// timedRounds does n round trips with RequestInto, each with its own
// context.WithTimeout, as a careful caller does, and returns ns per round
// trip.
func timedRounds(c *connector.Conn, id connector.ID, payload []byte, n int, timeout time.Duration) (float64, error) {
	ctx := context.Background()
	req := connector.Message{ID: id, Data: payload}
	var reply connector.Message
	start := time.Now()
	for i := 0; i < n; i++ {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		err := c.RequestInto(rctx, &req, &reply)
		cancel()
		if err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n), nil
}

// timeoutRounds does n round trips with RequestInto and the Conn's request
// timeout, which each request arms only if it must wait, and returns ns per
// round trip.
func timeoutRounds(c *connector.Conn, id connector.ID, payload []byte, n int, timeout time.Duration) (float64, error) {
	prev := c.RequestTimeout()
	c.SetRequestTimeout(timeout)
	defer c.SetRequestTimeout(prev)
	ctx := context.Background()
	req := connector.Message{ID: id, Data: payload}
	var reply connector.Message
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := c.RequestInto(ctx, &req, &reply); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n), nil
}

// pingRound runs cnctl ping's loop, as cnctl ping -c n -i 0 -q does, and
// returns ns per round trip.
func pingRound(ctx context.Context, c *connector.Conn, id connector.ID, payload []byte, n int, timeout time.Duration) (float64, error) {
	p := pinger{c: c, id: id, payload: payload, count: n, timeout: timeout, quiet: true, out: io.Discard}
	start := time.Now()
	if err := p.run(ctx); err != nil {
		return 0, err
	}
	ns := float64(time.Since(start).Nanoseconds()) / float64(n)
	if p.st.Count() != n {
		return 0, fmt.Errorf("ping: %d of %d replies", p.st.Count(), n)
	}
	return ns, nil
}

// probeLoad is a round trip benchProbes times without and with the probes.
type probeLoad struct {
	name  string // what the round trip is, as printed
	short string // its name in the "% of" column
	round func(n int) (float64, error)
	n     int // round trips a round; 0: benchProbes' n
	// records: mode all writes one record per round trip (a reply), which
	// benchProbes checks it reads, none lost.
	records bool
	without []float64   // ns per round trip, per round
	with    [][]float64 // per mode, per round
	added   [][]float64 // per mode, per round: with minus the round's without
}

// benchProbes measures each load's round trip without and with the probes
// attached (unfiltered), one mode after another in alternating rounds, and
// prints per load and mode the instructions (on the instruction clock, ns)
// each round trip gains, against the load's round trip without probes and,
// for the first (the Go echo), against the C client's (cNs, 0 if not
// measured). Each load has its own block without probes and its own
// attach per mode, one load after another in each round, so that what one
// load leaves behind (a TCP timer) lands in its own blocks, not in
// another's. The records of modes losses and all are read after each
// block, all of them, timed apart: the reader is a separate program that
// runs on another CPU where there is one, and on a single CPU its cost
// adds to the probes'. Each block starts with a warm-up, so that one-off
// costs (attaching, a task's first send) stay out.
func benchProbes(w io.Writer, loads []*probeLoad, n, rounds int, cNs float64) error {
	modes := []probe.Mode{probe.ModeCounters, probe.ModeLosses, probe.ModeAll}
	readNs := make([][]float64, len(modes))
	perRT := make([][]float64, len(modes))
	// count is a load's round trips a round, warm is its warm-up's.
	count := func(l *probeLoad) int {
		if l.n > 0 {
			return l.n
		}
		return n
	}
	warm := func(l *probeLoad) int { return count(l)/10 + 1 }
	for _, l := range loads {
		l.with = make([][]float64, len(modes))
		l.added = make([][]float64, len(modes))
	}
	// timed is one load's block: a warm-up, then n round trips. Loading
	// the probes parses the kernel's BTF, megabytes of garbage, and the
	// loads make their own: collected before each timed block, not
	// during it.
	timed := func(l *probeLoad) (float64, error) {
		runtime.GC()
		if _, err := l.round(warm(l)); err != nil {
			return 0, fmt.Errorf("%s: %w", l.name, err)
		}
		ns, err := l.round(count(l))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", l.name, err)
		}
		return ns, nil
	}
	for r := 0; r < rounds; r++ {
		for _, l := range loads {
			base, err := timed(l)
			if err != nil {
				return err
			}
			l.without = append(l.without, base)
			for i, m := range modes {
				p, err := probe.Start(probe.Filter{Mode: m})
				if err != nil {
					return err
				}
				settle()
				ns, err := timed(l)
				if err != nil {
					p.Close()
					return err
				}
				events, lost, elapsed, err := drain(p)
				if cerr := p.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				settle()
				want := 0
				if m == probe.ModeAll && l.records {
					want = warm(l) + count(l) // one record per reply
				}
				if lost > 0 || events < want {
					return fmt.Errorf("round %d with probes (%s), %s: %d events read, %d lost; want at least %d and none lost", r, m, l.name, events, lost, want)
				}
				l.with[i] = append(l.with[i], ns)
				l.added[i] = append(l.added[i], ns-base)
				if l.records && events > 1 {
					readNs[i] = append(readNs[i], float64(elapsed.Nanoseconds())/float64(events-1))
					perRT[i] = append(perRT[i], float64(events)/float64(warm(l)+count(l)))
				}
			}
		}
	}
	fmt.Fprintf(w, "\nprobes, %d rounds of %d round trips, modes alternating; on the instruction clock 1 ns = 1 instruction\n", rounds, n)
	for j, l := range loads {
		read := make([]string, len(modes))
		for i := range modes {
			read[i] = "-"
			if l.records && len(readNs[i]) > 0 && len(perRT[i]) > 0 {
				read[i] = fmt.Sprintf("%.1f, %.0f", median(perRT[i]), median(readNs[i]))
			}
		}
		if j > 0 {
			cNs = 0 // the C client times the echo only
		}
		printProbeLoad(w, l, modes, cNs, read)
	}
	return nil
}

// printProbeLoad prints what the probes added to l's round trip, per mode:
// the median of the per-round differences and their range, that as a share
// of l's round trip without probes and of the C client's (cNs, 0: not
// measured), and read[mode], what was read of the records.
func printProbeLoad(w io.Writer, l *probeLoad, modes []probe.Mode, cNs float64, read []string) {
	without := summarize(l.without)
	fmt.Fprintf(w, "%s without probes: median %.0f ns (min %.0f, max %.0f)", l.name, without.median, without.min, without.max)
	if cNs > 0 {
		fmt.Fprintf(w, "; C client %.0f", cNs)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-9s %10s %12s %12s %9s %9s %18s\n", "mode", "rt ns", "added ns/rt", "(min-max)", "% of "+l.short, "% of C", "records/rt, read ns")
	for i, m := range modes {
		with, added := summarize(l.with[i]), summarize(l.added[i])
		pc := "-"
		if cNs > 0 {
			pc = fmt.Sprintf("%.1f%%", 100*added.median/cNs)
		}
		fmt.Fprintf(w, "%-9s %10.0f %12.0f %5.0f-%-6.0f %8.1f%% %9s %18s\n", m, with.median, added.median, added.min, added.max, 100*added.median/without.median, pc, read[i])
	}
}

// settle lets the kernel finish, outside the timed blocks, what attaching
// and detaching the probes leave to its threads and timers (old trampoline
// images are freed after RCU-tasks grace periods, programs and maps from
// workqueues), and the Go runtime return the BTF's garbage to the kernel.
// The guest's CPU idles meanwhile: on the instruction clock (QEMU's
// -icount with sleep=off) the sleep costs no instructions and little wall
// time.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(settleTime)
}

// settleTime is how long settle waits: a generous guess, since idling is
// free on the instruction clock.
const settleTime = 300 * time.Millisecond

// drain reads the probes' events until none is left, and returns their
// count, the count of those the ring buffer could not take, and the time
// from the first event read to the last (the wait for the first is the
// reader's poll interval, not work).
func drain(p *probe.Probe) (events int, lost uint64, reading time.Duration, err error) {
	var ev probe.Event
	var first time.Time
	for {
		err := p.ReadInto(&ev, time.Now().Add(50*time.Millisecond))
		if errors.Is(err, probe.ErrTimeout) {
			break
		}
		if err != nil {
			return events, 0, 0, err
		}
		if events == 0 {
			first = time.Now()
		} else {
			reading = time.Since(first)
		}
		events++
	}
	lost, err = p.Lost()
	return events, lost, reading, err
}

// goRounds does n round trips with RequestInto and returns ns per round trip.
func goRounds(c *connector.Conn, id connector.ID, payload []byte, n int) (float64, error) {
	ctx := context.Background()
	req := connector.Message{ID: id, Data: payload}
	var reply connector.Message
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := c.RequestInto(ctx, &req, &reply); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n), nil
}

// refRound runs the C reference client once and returns its ns per round trip.
func refRound(path string, n, size int, id connector.ID) (float64, error) {
	out, err := exec.Command(path, strconv.Itoa(n), strconv.Itoa(size),
		strconv.FormatUint(uint64(id.Idx), 10), strconv.FormatUint(uint64(id.Val), 10)).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("C reference client %s: %v: %s", path, err, strings.TrimSpace(string(out)))
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != "ns_per_rt" {
		return 0, fmt.Errorf("C reference client %s printed %q, want \"ns_per_rt <float>\"", path, out)
	}
	return strconv.ParseFloat(f[1], 64)
}

// spread is what the bench says of a set of timings: their median and
// their range.
type spread struct{ median, min, max float64 }

// summarize is the spread of v, which holds at least one timing.
func summarize(v []float64) spread {
	return spread{median: median(v), min: slices.Min(v), max: slices.Max(v)}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
