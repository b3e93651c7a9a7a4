package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/probe"
)

func runBench(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("n", 5000, "round trips per round")
	size := fs.Int("s", 64, "bytes of data per request")
	rounds := fs.Int("rounds", 21, "rounds per client, alternating between the clients")
	ref := fs.String("ref", "", "path of the C reference client (userspace/bench/cn_echo_ref.c); empty: Go only")
	idFlag := fs.String("id", control.DefaultEchoID.String(), "echo id, as idx:val")
	withProbes := fs.Bool("probes", false, "also measure the Go client with the eBPF probes attached and read, against without, in alternating rounds")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	id, err := connector.ParseID(*idFlag)
	if err != nil {
		return fail("bench", err)
	}
	if *n <= 0 || *rounds <= 0 {
		return fail("bench", fmt.Errorf("-n and -rounds must be positive"))
	}

	c, err := connector.Dial(nil)
	if err != nil {
		return fail("bench", err)
	}
	defer c.Close()
	payload := make([]byte, *size)
	if _, err := goRounds(c, id, payload, *n/10+1); err != nil { // warm-up
		return fail("bench", err)
	}

	var goNs, refNs []float64
	for r := 0; r < *rounds; r++ {
		if *ref != "" {
			ns, err := refRound(*ref, *n, *size, id)
			if err != nil {
				return fail("bench", err)
			}
			refNs = append(refNs, ns)
		}
		ns, err := goRounds(c, id, payload, *n)
		if err != nil {
			return fail("bench", err)
		}
		goNs = append(goNs, ns)
	}

	fmt.Printf("echo round trip to %s, %d-byte payload, %d rounds of %d\n", id, *size, *rounds, *n)
	fmt.Printf("%-8s %12s %12s %12s\n", "client", "median ns", "min ns", "max ns")
	row := func(name string, v []float64) {
		fmt.Printf("%-8s %12.0f %12.0f %12.0f\n", name, median(v), slices.Min(v), slices.Max(v))
	}
	if len(refNs) > 0 {
		row("C", refNs)
	}
	row("Go", goNs)
	if len(refNs) > 0 {
		// Each round's ratio compares runs made moments apart, so that
		// the emulator's and the host's slow spells cancel out.
		ratios := make([]float64, len(goNs))
		for i := range goNs {
			ratios[i] = goNs[i] / refNs[i]
		}
		fmt.Printf("ratio Go/C: median of per-round ratios %.2f (min %.2f, max %.2f); ratio of medians %.2f\n",
			median(ratios), slices.Min(ratios), slices.Max(ratios), median(goNs)/median(refNs))
	}
	if *withProbes {
		if err := benchProbes(c, id, payload, *n, *rounds); err != nil {
			return fail("bench", err)
		}
	}
	return 0
}

// benchProbes measures the echo throughput without and with the probes
// attached (unfiltered), in alternating rounds, and prints the ratio. The
// probes' events are read after each round, all of them, timed apart: the
// reader is a separate program that runs on another CPU where there is one,
// and on a single CPU its cost adds to the probes'. Each round starts with
// a warm-up, so that one-off costs (attaching, a task's first send) stay out.
func benchProbes(c *connector.Conn, id connector.ID, payload []byte, n, rounds int) error {
	var without, with, ratios, readNs, perRT []float64
	warm := n/10 + 1
	for r := 0; r < rounds; r++ {
		if _, err := goRounds(c, id, payload, warm); err != nil {
			return err
		}
		ns, err := goRounds(c, id, payload, n)
		if err != nil {
			return err
		}
		without = append(without, 1e9/ns)

		p, err := probe.Start(probe.Filter{})
		if err != nil {
			return err
		}
		_, err = goRounds(c, id, payload, warm)
		if err == nil {
			ns, err = goRounds(c, id, payload, n)
		}
		if err != nil {
			p.Close()
			return err
		}
		events, lost, elapsed, err := drain(p)
		p.Close()
		if err != nil {
			return err
		}
		if want := 2 * (n + warm); lost > 0 || events < want {
			return fmt.Errorf("round %d with probes: %d events read, %d lost; want at least %d and none lost", r, events, lost, want)
		}
		with = append(with, 1e9/ns)
		ratios = append(ratios, with[r]/without[r])
		readNs = append(readNs, float64(elapsed.Nanoseconds())/float64(events-1))
		perRT = append(perRT, float64(events)/float64(n+warm))
	}
	fmt.Printf("\necho throughput, %d rounds of %d round trips\n", rounds, n)
	fmt.Printf("%-14s %12s %12s %12s\n", "", "median rt/s", "min rt/s", "max rt/s")
	fmt.Printf("%-14s %12.0f %12.0f %12.0f\n", "without probes", median(without), slices.Min(without), slices.Max(without))
	fmt.Printf("%-14s %12.0f %12.0f %12.0f\n", "with probes", median(with), slices.Min(with), slices.Max(with))
	fmt.Printf("ratio with/without: median of per-round ratios %.3f (min %.3f, max %.3f): the probes cost %.1f%% of the echo's throughput\n",
		median(ratios), slices.Min(ratios), slices.Max(ratios), 100*(1-median(ratios)))
	// Reading on the same CPU: each round trip also pays for its events.
	nsRT := 1e9 / median(without)
	oneCPU := nsRT / (1e9/median(with) + median(perRT)*median(readNs))
	fmt.Printf("reading the events: %.0f ns each (median; %.1f events per round trip); with the reader on the same CPU the probes would cost %.1f%%\n",
		median(readNs), median(perRT), 100*(1-oneCPU))
	return nil
}

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

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
