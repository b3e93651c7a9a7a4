package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/probe"
)

// TestSummarize: the median and range every bench table prints, without
// reordering the timings it is given (their order is the rounds').
func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		v    []float64
		want spread
	}{
		{"one", []float64{7}, spread{7, 7, 7}},
		{"odd, unsorted", []float64{9, 1, 5}, spread{5, 1, 9}},
		{"even: the mean of the middle two", []float64{4, 1, 3, 10}, spread{3.5, 1, 10}},
		{"negative differences", []float64{-20, 30, -5}, spread{-5, -20, 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := slices.Clone(tt.v)
			if got := summarize(v); got != tt.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tt.v, got, tt.want)
			}
			if !slices.Equal(v, tt.v) {
				t.Errorf("summarize reordered its input: %v, was %v", v, tt.v)
			}
		})
	}
}

// TestPrintProbeLoad: a load's table gives, per mode, the round trip with
// the probes, the median added and its range, that as a share of the
// load's own round trip without probes, and of C's only where C was timed.
func TestPrintProbeLoad(t *testing.T) {
	modes := []probe.Mode{probe.ModeCounters, probe.ModeLosses}
	tests := []struct {
		name  string
		load  probeLoad
		cNs   float64
		read  []string
		lines []string
	}{
		{
			name: "the echo, beside C",
			load: probeLoad{name: "Go round trip", short: "Go",
				without: []float64{8000, 7900, 8100},
				with:    [][]float64{{8100, 8000, 8200}, {8400, 8300, 8500}},
				added:   [][]float64{{100, 90, 110}, {400, 380, 420}}},
			cNs:  6000,
			read: []string{"-", "0.0, 0"},
			lines: []string{
				"Go round trip without probes: median 8000 ns (min 7900, max 8100); C client 6000",
				"mode           rt ns  added ns/rt    (min-max)   % of Go    % of C records/rt, read ns",
				"counters        8100          100    90-110         1.2%      1.7%                  -",
				"losses          8400          400   380-420         5.0%      6.7%             0.0, 0",
			},
		},
		{
			name: "UDP: its own base, no C",
			load: probeLoad{name: "UDP loopback round trip", short: "UDP",
				without: []float64{20000, 20400},
				with:    [][]float64{{20100, 20300}, {20600, 21000}},
				added:   [][]float64{{-100, 100}, {400, 800}}},
			read: []string{"-", "-"},
			lines: []string{
				"UDP loopback round trip without probes: median 20200 ns (min 20000, max 20400)",
				"mode           rt ns  added ns/rt    (min-max)  % of UDP    % of C records/rt, read ns",
				"counters       20200            0  -100-100         0.0%         -                  -",
				"losses         20800          600   400-800         3.0%         -                  -",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printProbeLoad(&b, &tt.load, modes, tt.cNs, tt.read)
			got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if !slices.Equal(got, tt.lines) {
				t.Errorf("printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.lines, "\n"))
			}
		})
	}
}

// TestLoopback: a UDP and a TCP pair on 127.0.0.1 echo the payload back,
// round after round; a payload of 0 bytes is sent as 1 (an empty TCP write
// sends nothing to wait for). It needs only the loopback interface, which
// every machine has up.
func TestLoopback(t *testing.T) {
	tests := []struct {
		network string
		size    int
		sent    int
	}{
		{"udp", 64, 64},
		{"tcp", 64, 64},
		{"udp", 0, 1},
		{"tcp", 0, 1},
		{"udp", 16 << 10, 16 << 10},
		{"tcp", 16 << 10, 16 << 10},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.network, tt.size), func(t *testing.T) {
			l, err := dialLoopback(tt.network, tt.size, time.Second)
			if err != nil {
				t.Fatalf("dialLoopback(%s, %d): %v", tt.network, tt.size, err)
			}
			defer l.Close()
			if _, err := l.rounds(20); err != nil {
				t.Fatalf("rounds: %v", err)
			}
			if len(l.out) != tt.sent || !bytes.Equal(l.in, l.out) {
				t.Errorf("sent %d bytes, got back %d (equal: %v); want %d echoed", len(l.out), len(l.in), bytes.Equal(l.in, l.out), tt.sent)
			}
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// TestLoopbackErrors: a network it cannot time is refused by name, and a
// read that gets nothing fails within its timeout instead of hanging.
func TestLoopbackErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"unknown network", func() error {
			_, err := dialLoopback("sctp", 64, time.Second)
			return err
		}, `loopback "sctp": want udp or tcp`},
		{"nothing to read", func() error {
			l, err := dialLoopback("udp", 8, 10*time.Millisecond)
			if err != nil {
				return err
			}
			defer l.Close()
			// Nothing was sent: a's read times out.
			return l.receive(l.a)
		}, "udp loopback: read: nothing came in 10ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}
