package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cnlab/cnlab/vm/guest"
)

// The test binary doubles as a fake QEMU: with CNLAB_FAKE_QEMU set, it
// plays that scenario, printing a console on stdout and sending events to
// the results port named on its command line, as a guest would.
func TestMain(m *testing.M) {
	if s := os.Getenv("CNLAB_FAKE_QEMU"); s != "" {
		os.Exit(fakeQEMU(s, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeQEMU(scenario string, args []string) int {
	var sock string
	for _, a := range args {
		if strings.Contains(a, "id=results") {
			_, sock, _ = strings.Cut(a, "path=")
		}
	}
	conn, err := net.Dial("unix", "@"+sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake qemu:", err)
		return 1
	}
	enc := json.NewEncoder(conn)
	send := func(e guest.Event) { _ = enc.Encode(e) }
	console := func(lines ...string) {
		for _, l := range lines {
			fmt.Println(l)
		}
	}
	hang := func() int { time.Sleep(time.Hour); return 0 }
	console("[    0.000000] Linux version 6.1.0-fake")
	send(guest.Event{Type: guest.EventReady, Kernel: "6.1.0-fake"})
	send(guest.Event{Type: guest.EventStart, Step: "exec1"})
	switch scenario {
	case "oops":
		// A background step oopses; the foreground one hangs.
		console("[    5.500000] BUG: unable to handle page fault for address: ffffffffc0a01000",
			"[    5.500100] #PF: supervisor instruction fetch in kernel mode",
			"[    5.500200] Oops: 0010 [#1] PREEMPT SMP NOPTI",
			"[    5.500300] Call Trace:", "[    5.500400]  cn_rx_skb+0x10/0x20")
		return hang()
	case "silent":
		return hang()
	case "quiet-with-heartbeat":
		// A step that prints nothing for longer than the silence
		// timeout, in a guest whose /init is alive.
		for i := 0; i < 15; i++ {
			time.Sleep(200 * time.Millisecond)
			send(guest.Event{Type: guest.EventHeartbeat})
		}
		send(guest.Event{Type: guest.EventExit, Step: "exec1", Code: 0})
		send(guest.Event{Type: guest.EventDone})
	case "killed":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		return hang()
	case "no-exit":
		send(guest.Event{Type: guest.EventDone})
	case "step-killed":
		send(guest.Event{Type: guest.EventExit, Step: "exec1", Code: -1})
		send(guest.Event{Type: guest.EventDone})
	case "corrupt":
		_, _ = conn.Write([]byte("{\"t\":\"exit\",\"step\":\"exe\n"))
		send(guest.Event{Type: guest.EventExit, Step: "exec1", Code: 0})
		send(guest.Event{Type: guest.EventDone})
	case "passes":
		send(guest.Event{Type: guest.EventExit, Step: "exec1", Code: 0})
		send(guest.Event{Type: guest.EventDone})
	case "stops-early":
		return 0
	}
	conn.Close()
	return 0
}

// TestBootVerdicts boots the fake QEMU through each scenario and checks
// the verdict, its reason, and how soon it came.
func TestBootVerdicts(t *testing.T) {
	tests := []struct {
		scenario   string
		cancel     time.Duration // cancel the run after this long, if set
		verdict    Verdict
		reason     string
		within     time.Duration
		troubleHas string
	}{
		{"passes", 0, Passed, "", 10 * time.Second, ""},
		{"quiet-with-heartbeat", 0, Passed, "", 10 * time.Second, ""},
		{"oops", 0, KernelFailure, "the kernel logged a BUG: [    5.500000] BUG: unable to handle page fault", 5 * time.Second, "Oops: 0010"},
		{"silent", 0, InfraFailure, "no-output watchdog: neither the console nor the results port said anything for 2s while step exec1 ran", 10 * time.Second, ""},
		{"killed", 0, InfraFailure, "QEMU was killed by signal killed", 10 * time.Second, ""},
		{"no-exit", 0, InfraFailure, "no exit status came back for step exec1", 10 * time.Second, ""},
		{"step-killed", 0, Failed, "step exec1 was killed by a signal", 10 * time.Second, ""},
		{"corrupt", 0, InfraFailure, "the results port lost 1 line(s) (1 not events, 0 over 256 MiB)", 10 * time.Second, ""},
		{"stops-early", 0, InfraFailure, "the guest stopped before its job was done, while step exec1 ran", 10 * time.Second, ""},
		{"silent", time.Second, Interrupted, "interrupted: context canceled", 10 * time.Second, ""},
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.scenario, tt.verdict), func(t *testing.T) {
			t.Setenv("CNLAB_FAKE_QEMU", tt.scenario)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel > 0 {
				time.AfterFunc(tt.cancel, cancel)
			}
			var progress strings.Builder
			r := Run{
				Machine:        Machine{QEMU: self, Kernel: "k", Initramfs: "i", Memory: "1G", CPUs: 1, Accel: "tcg"},
				BootTimeout:    5 * time.Second,
				RunTimeout:     time.Minute,
				SilenceTimeout: time.Minute,
				Grace:          500 * time.Millisecond,
				ConsoleLog:     filepath.Join(t.TempDir(), "console.log"),
				Progress:       &progress,
			}
			if tt.scenario == "silent" || tt.scenario == "quiet-with-heartbeat" {
				r.SilenceTimeout = 2 * time.Second
			}
			start := time.Now()
			out, err := r.Boot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if out.Verdict != tt.verdict || !strings.HasPrefix(out.Reason, tt.reason) {
				t.Errorf("verdict %v, %q; want %v, %q", out.Verdict, out.Reason, tt.verdict, tt.reason)
			}
			if took > tt.within {
				t.Errorf("the verdict took %v, want within %v", took, tt.within)
			}
			if tt.troubleHas != "" {
				var lines []string
				for _, tr := range out.Trouble {
					lines = append(lines, tr.Line)
				}
				if !strings.Contains(strings.Join(lines, "\n"), tt.troubleHas) {
					t.Errorf("trouble %q lacks %q", lines, tt.troubleHas)
				}
				if out.TroubleAt == 0 || !strings.Contains(progress.String(), "the kernel reports trouble") {
					t.Errorf("the trouble was not reported as it showed (at %v); progress:\n%s", out.TroubleAt, progress.String())
				}
			}
		})
	}
}

func TestResultsDecode(t *testing.T) {
	ev := func(step string) string {
		b, _ := json.Marshal(guest.Event{Type: guest.EventOut, Step: step, Line: "x"})
		return string(b) + "\n"
	}
	empty := len(ev("s")) - 1 // an event's length without its step name
	long := `{"t":"out","step":"big","line":"` + strings.Repeat("y", 200) + "\"}\n"
	tests := []struct {
		name  string
		input string
		steps []string
		want  ResultsStats
	}{
		{"plain", ev("a") + ev("b"), []string{"a", "b"}, ResultsStats{Events: 2}},
		{"a line over the bound is skipped, and reading goes on", ev("a") + long + ev("b"), []string{"a", "b"}, ResultsStats{Events: 2, Dropped: 1}},
		// 150 bytes and its newline; then 151.
		{"a line at the bound is kept", ev(strings.Repeat("s", 151-empty)), []string{strings.Repeat("s", 151-empty)}, ResultsStats{Events: 1}},
		{"a line one past the bound is not", ev(strings.Repeat("s", 152-empty)) + ev("b"), []string{"b"}, ResultsStats{Events: 1, Dropped: 1}},
		{"garbage is counted", "noise\n" + ev("a") + "{\"t\":\n", []string{"a"}, ResultsStats{Events: 1, Corrupt: 2}},
		{"blank lines are nothing", "\n\r\n" + ev("a"), []string{"a"}, ResultsStats{Events: 1}},
		{"a last line without newline", strings.TrimSuffix(ev("a"), "\n"), []string{"a"}, ResultsStats{Events: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := &resultsReader{done: make(chan struct{})}
			events := make(chan guest.Event, 16)
			rd.decode(strings.NewReader(tt.input), events, 150)
			close(events)
			var steps []string
			for e := range events {
				steps = append(steps, e.Step)
			}
			if strings.Join(steps, ",") != strings.Join(tt.steps, ",") || rd.stats() != tt.want {
				t.Errorf("got steps %q, %+v; want %q, %+v", steps, rd.stats(), tt.steps, tt.want)
			}
		})
	}
}
