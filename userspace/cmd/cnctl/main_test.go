package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/connector/cntest"
	"github.com/cnlab/cnlab/userspace/control/controltest"
	"github.com/cnlab/cnlab/userspace/probe"
	"github.com/cnlab/cnlab/userspace/wire"
	"golang.org/x/sys/unix"
)

// cnctl runs cnctl with args against k (nil: a dial fails the test) and
// returns its exit code, stdout and stderr.
func cnctl(t *testing.T, k *cntest.Kernel, args ...string) (int, string, string) {
	t.Helper()
	return cnctlContext(t, t.Context(), k, args...)
}

// cnctlContext is cnctl, interrupted (Ctrl-C) when ctx is done.
func cnctlContext(t *testing.T, ctx context.Context, k *cntest.Kernel, args ...string) (int, string, string) {
	t.Helper()
	return cnctlTrace(t, ctx, k, nil, args...)
}

// cnctlTrace is cnctlContext with tr as the probes (nil: attaching them
// fails the test).
func cnctlTrace(t *testing.T, ctx context.Context, k *cntest.Kernel, tr tracer, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	startTrace := func(probe.Filter, string) (tracer, error) {
		if tr == nil {
			t.Errorf("cnctl %s attached probes", strings.Join(args, " "))
			return nil, errors.New("no probes in this test")
		}
		return tr, nil
	}
	dial := func(cfg *connector.Config) (*connector.Conn, error) {
		t.Errorf("cnctl %s dialed", strings.Join(args, " "))
		return nil, errors.New("no dialing in this test")
	}
	if k != nil {
		dial = k.Dial
	}
	code := run(&env{stdout: &out, stderr: &errOut, dial: dial, ctx: ctx, startTrace: startTrace}, args)
	return code, out.String(), errOut.String()
}

// TestHelp: cnctl -h, help and help <command> print usage and exit 0, and
// -h on each command lists all its flags without dialing.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"help", "ping"}, {"help", "help"}, {"help", "-h"}} {
		code, out, _ := cnctl(t, nil, args...)
		if code != 0 || !strings.Contains(out, "usage: cnctl") {
			t.Errorf("cnctl %s: exit %d, stdout %q; want usage and exit 0", strings.Join(args, " "), code, out)
		}
	}
	common := []string{"-ctl-id", "-json", "-timeout"}
	flags := map[string][]string{
		"ping":              {"-c", "-s", "-i", "-W", "-id", "-f", "-q", "-json"},
		"listen":            {"-g", "-rcvbuf", "-force", "-c", "-timeout", "-json"},
		"send":              {"-id", "-data", "-s", "-seq", "-ack", "-wait", "-json"},
		"bench":             {"-n", "-s", "-rounds", "-ref", "-id", "-W", "-probes", "-loopback", "-loopback-n"},
		"ctl":               {"-id", "-json", "-timeout", "stats", "burst", "timer-start", "timer-stop", "register", "unregister", "echo-mode"},
		"stats":             common,
		"trace":             {"-id", "-port", "-g", "-seq", "-c", "-timeout", "-json", "-btf", "-o"},
		"ctl stats":         common,
		"ctl burst":         append([]string{"-g", "-port", "-n", "-s"}, common...),
		"ctl timer-start":   append([]string{"-g", "-period"}, common...),
		"ctl timer-stop":    common,
		"ctl register":      append([]string{"-id"}, common...),
		"ctl unregister":    append([]string{"-id"}, common...),
		"ctl echo-mode":     append([]string{"-mode", "-count", "-delay"}, common...),
		"help ctl":          {"-id", "-json", "-timeout"},
		"help listen":       {"-g", "-rcvbuf"},
		"ctl -json stats":   common,
		"ctl -id 1:2 burst": {"-g"},
	}
	for cmd, want := range flags {
		args := strings.Fields(cmd)
		if args[0] != "help" {
			args = append(args, "-h")
		}
		code, out, _ := cnctl(t, nil, args...)
		if code != 0 {
			t.Errorf("cnctl %s -h: exit %d, want 0", cmd, code)
		}
		for _, f := range want {
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(f) + `\b`).MatchString(out) {
				t.Errorf("cnctl %s -h does not list %s:\n%s", cmd, f, out)
			}
		}
	}
}

// TestBadFlags: an out-of-range or stray value, an unknown flag or command
// is one line on stderr (not the whole usage) and exit 2, before anything
// is dialed.
func TestBadFlags(t *testing.T) {
	tests := [][]string{
		{"bench", "-s", "-1"},
		{"bench", "-n", "0"},
		{"bench", "-rounds", "-2"},
		{"bench", "-loopback"},
		{"bench", "-probes", "-loopback", "-loopback-n", "0"},
		{"ping", "-c", "-3"},
		{"ping", "-s", "16365"},
		{"ping", "-i", "-1"},
		{"ping", "-W", "0"},
		{"ping", "-W", "1e-12"},
		{"ping", "-W", "-1e-12"},
		{"ping", "-i", "1e-300"},
		{"ping", "-i", "fast"},
		{"ping", "14:0x456", "extra"},
		{"ping", "nonsense"},
		{"listen", "-c", "-1", "-g", "20"},
		{"listen", "-g", "20", "-rcvbuf", "-5"},
		{"listen", "-g", "27"},
		{"listen", "-g", "20", "stray"},
		{"send", "-seq", "4294967297"},
		{"send", "-ack", "-1"},
		{"send", "-s", "16365"},
		{"ctl", "burst", "-g", "20", "-n", "-1"},
		{"ctl", "burst", "-g", "20", "-s", "3"},
		{"ctl", "burst", "-g", "20", "-port", "5"},
		{"ctl", "timer-start", "-g", "0"},
		{"ctl", "timer-start", "-g", "20", "-period", "0.0001"},
		{"ctl", "echo-mode", "-count", "4294967296"},
		{"ctl", "echo-mode", "-mode", "loud"},
		{"ctl", "register", "-id", "14"},
		{"ctl", "stats", "stray"},
		{"ctl", "-timeout", "0", "stats"},
		{"ctl", "nosuchop"},
		{"ctl"},
		{"ctl", "-nosuchflag", "stats"},
		{"ping", "-nosuchflag"},
		{"listen"},
		{"trace", "-c", "-1"},
		{"trace", "-id", "bad"},
		{"trace", "-seq", "5-1"},
		{"proc", "-e", "nosuch"},
		{"proc", "stray"},
		{"send", "stray"},
		{"bench", "stray"},
		{"ctl", "stats", "-ctl-id", "bad"},
		{"nosuchcommand"},
		{"help", "nosuchcommand"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := cnctl(t, nil, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stdout %q, stderr %q", code, out, errOut)
			}
			if !strings.HasPrefix(errOut, "cnctl") || strings.Count(errOut, "\n") != 1 || len(errOut) > 200 {
				t.Fatalf("stderr %q: want one short line naming cnctl", errOut)
			}
			if out != "" {
				t.Fatalf("stdout %q, want nothing", out)
			}
		})
	}
}

// TestWithoutModule: each command that talks to the module says that no
// callback answered within its timeout, and exits 1, a runtime failure (2
// is for usage errors only).
func TestWithoutModule(t *testing.T) {
	const hint = "no callback on 14:0x456: is the cnlab module loaded?"
	tests := []struct {
		args []string
		hint string
		code int
	}{
		{[]string{"ping", "-c", "2", "-i", "0", "-W", "0.05"}, hint, 1},
		{[]string{"bench", "-n", "10", "-rounds", "1", "-W", "50ms"}, hint, 1},
		{[]string{"ctl", "-timeout", "50ms", "stats"}, "no callback on 14:0x4c0: is the cnlab module loaded?", 1},
		{[]string{"stats", "-json", "-timeout", "50ms"}, "no callback on 14:0x4c0: is the cnlab module loaded?", 1},
		{[]string{"send", "-wait", "50ms"}, hint, 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			start := time.Now()
			code, out, errOut := cnctl(t, cntest.New(nil), tt.args...)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if code != tt.code || !strings.Contains(out+errOut, tt.hint) {
				t.Fatalf("exit %d, want %d, saying %q; stdout %q, stderr %q", code, tt.code, tt.hint, out, errOut)
			}
		})
	}
}

// TestBadDurationSaysWhatWasGiven: a value in seconds too small for the
// nanosecond clock is refused as given, not as the 0s it would round to.
func TestBadDurationSaysWhatWasGiven(t *testing.T) {
	tests := []struct{ flag, value string }{
		{"-W", "1e-12"},
		{"-i", "1e-300"},
		{"-W", "-1e-12"},
	}
	for _, tt := range tests {
		t.Run(tt.flag+" "+tt.value, func(t *testing.T) {
			code, _, errOut := cnctl(t, nil, "ping", tt.flag, tt.value)
			if code != 2 || !strings.Contains(errOut, tt.value) || strings.Contains(errOut, " 0s") {
				t.Fatalf("exit %d, stderr %q; want 2 and the value as given", code, errOut)
			}
		})
	}
}

// TestPingInterrupted: Ctrl-C during the first request's wait is not a
// loss, and says nothing of a timeout that never came.
func TestPingInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel) // as the signal does
	start := time.Now()
	code, out, errOut := cnctlContext(t, ctx, cntest.New(nil), "ping", "-W", "5")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v after Ctrl-C at 300ms", d)
	}
	if strings.Contains(out+errOut, "no reply within") || !strings.Contains(out, "0 requests transmitted") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant no word of a timeout", code, out, errOut)
	}
}

func TestPing(t *testing.T) {
	k, _ := controltest.New()
	code, out, errOut := cnctl(t, k, "ping", "-c", "3", "-i", "0.001", "14:0x456")
	if code != 0 || !strings.Contains(out, "3 requests transmitted, 3 received, 0% loss") || strings.Count(out, "bytes from 14:0x456") != 3 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = cnctl(t, k, "ping", "-c", "4", "-f")
	if code != 0 || !strings.HasPrefix(out, "PING 14:0x456: 56 data bytes\n"+strings.Repeat(".\b \b", 4)) {
		t.Fatalf("ping -f: exit %d\n%q", code, out)
	}
}

// jsonLines decodes each line of out into a map.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// dataKeyed are the objects keyed by data (an errno, a destination, an id)
// rather than by field names.
var dataKeyed = map[string]bool{"send_errors": true, "dests": true, "slots": true, "outcomes": true, "counters": true, "skipped": true, "by_errno": true}

// keys returns m's keys, and those of the objects in it, as a.b, sorted.
// Maps keyed by data (send_errors, dests) are listed by their own name.
func keys(m map[string]any, prefix string) []string {
	var ks []string
	for k, v := range m {
		ks = append(ks, prefix+k)
		if sub, ok := v.(map[string]any); ok && !dataKeyed[k] {
			ks = append(ks, keys(sub, prefix+k+".")...)
		}
	}
	sort.Strings(ks)
	return ks
}

// TestJSONSchema pins each command's JSON lines: their field names (snake
// case, every field of a line's type there even when zero), the key that
// says what the line is ("type", in every command) and their times (RFC
// 3339 with a date and a zone).
func TestJSONSchema(t *testing.T) {
	k, mod := controltest.New()
	mod.Stats.SendErrors[11] = 2
	mod.Stats.Dests[20].Sent = 2
	mod.Stats.Extra[3] = wire.ExtraStats{Idx: 14, Val: 0x900, Received: 5, Invalid: 1}
	mod.Stats.LatePending, mod.Stats.LateBytes, mod.Stats.LateBytesMax, mod.Stats.LateDropped = 6, 7000, 8000, 4
	mod.Stats.ExtraReceived, mod.Stats.ExtraInvalid = 9, 3

	type want struct {
		typ  string // the "type" field's value
		keys string
	}
	check := func(t *testing.T, out string, wants []want) {
		t.Helper()
		lines := jsonLines(t, out)
		if len(lines) != len(wants) {
			t.Fatalf("%d JSON lines, want %d:\n%s", len(lines), len(wants), out)
		}
		for i, l := range lines {
			got := keys(l, "")
			if strings.Join(got, " ") != wants[i].keys {
				t.Errorf("line %d: fields\n  %s\nwant\n  %s", i+1, strings.Join(got, " "), wants[i].keys)
			}
			for _, key := range got {
				for _, part := range strings.Split(key, ".") {
					if !snakeCase.MatchString(part) {
						t.Errorf("line %d: field %q is not snake_case", i+1, key)
					}
				}
			}
			if typ, _ := l["type"].(string); typ != wants[i].typ {
				t.Errorf("line %d: type %q, want %q", i+1, typ, wants[i].typ)
			}
			ts, _ := l["time"].(string)
			if tm, err := time.Parse(time.RFC3339Nano, ts); err != nil || time.Since(tm).Abs() > time.Minute || !strings.Contains(ts, "T") {
				t.Errorf("line %d: time %q is not RFC 3339 of now: %v", i+1, ts, err)
			}
		}
	}
	const pingSummaryKeys = "elapsed_ms id loss_percent received rtt_avg_ms rtt_max_ms rtt_mdev_ms rtt_min_ms time transmitted type"

	t.Run("ping", func(t *testing.T) {
		_, out, _ := cnctl(t, k, "ping", "-c", "1", "-json")
		check(t, out, []want{
			{"reply", "ack id len rtt_ms seq time type"},
			{"summary", pingSummaryKeys},
		})
	})
	t.Run("ping -s 0", func(t *testing.T) {
		_, out, _ := cnctl(t, k, "ping", "-c", "1", "-s", "0", "-json")
		check(t, out, []want{
			{"reply", "ack id len rtt_ms seq time type"},
			{"summary", pingSummaryKeys},
		})
	})
	t.Run("ping timeout", func(t *testing.T) {
		_, out, _ := cnctl(t, cntest.New(nil), "ping", "-c", "1", "-W", "0.02", "-json")
		check(t, out, []want{
			{"timeout", "id len seq time timeout_ms type"},
			{"summary", pingSummaryKeys},
		})
	})
	t.Run("stats", func(t *testing.T) {
		_, out, _ := cnctl(t, k, "stats", "-json")
		check(t, out, []want{{"result", "module_id ok op stats stats.allocs stats.control stats.control.invalid stats.control.received stats.control.refused " +
			"stats.dests stats.echo stats.echo.invalid stats.echo.received stats.echo.replied stats.extra_invalid stats.extra_received stats.frees stats.held " +
			"stats.late stats.late.bytes stats.late.bytes_max stats.late.dropped stats.late.pending " +
			"stats.notifications stats.send_errors stats.slots stats.timer_ticks time type"}})
		// Decoded into the output's own type: the field names are pinned
		// by the check above.
		var r struct {
			Stats stats `json:"stats"`
		}
		_ = json.Unmarshal([]byte(out), &r)
		late := r.Stats.Late
		if r.Stats.SendErrors["EAGAIN"] != 2 || r.Stats.Dests["group 20"].Sent != 2 ||
			late.Pending != 6 || late.Bytes != 7000 || late.BytesMax != 8000 || late.Dropped != 4 ||
			r.Stats.ExtraReceived != 9 || r.Stats.ExtraInvalid != 3 ||
			len(r.Stats.Slots) != 1 || r.Stats.Slots["3"] != (slotStats{ID: "14:0x900", Received: 5, Invalid: 1}) {
			t.Errorf("counters by name: %s", out)
		}
	})
	t.Run("ctl burst", func(t *testing.T) {
		_, out, _ := cnctl(t, k, "ctl", "burst", "-g", "20", "-n", "2", "-json")
		check(t, out, []want{{"result", "burst burst.count burst.failed burst.first_seq burst.ok module_id ok op time type what"}})
	})
	t.Run("ctl error", func(t *testing.T) {
		_, out, _ := cnctl(t, k, "ctl", "unregister", "-id", "14:0x999", "-json")
		check(t, out, []want{{"result", "error module_id ok op time type"}})
	})
	t.Run("send", func(t *testing.T) {
		_, out, _ := cnctl(t, k, "send", "-data", "hi", "-seq", "5", "-wait", "50ms", "-json")
		check(t, out, []want{
			{"sent", "ack id len seq time type"},
			{"message", "ack group id len port seq time type what"},
			{"summary", "gaps missed overruns received time type"},
		})
	})
	t.Run("listen", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		go func() {
			// Broadcast until the listener has joined and taken three,
			// with a gap between the first and the others.
			for seq := uint32(0); ctx.Err() == nil; seq++ {
				if seq != 1 && seq != 2 {
					k.Multicast(20, connectorMessage(seq))
				}
				time.Sleep(time.Millisecond)
			}
		}()
		_, out, _ := cnctl(t, k, "listen", "-g", "20", "-c", "2", "-json")
		cancel()
		lines := jsonLines(t, out)
		// The first message may be any of the seqs; a gap needs seq 0
		// then 3. Check the fields of what came.
		for i, l := range lines[:len(lines)-1] {
			got := strings.Join(keys(l, ""), " ")
			if got != "ack group id len port seq time type what" && got != "ack group id len missed port seq time type what" {
				t.Errorf("listen line %d: fields %s", i+1, got)
			}
			if m, ok := l["missed"].([]any); ok {
				r := m[0].(map[string]any)
				if !slices.Equal(keys(r, ""), []string{"count", "first", "last"}) {
					t.Errorf("missed range fields %v", keys(r, ""))
				}
			}
		}
		check(t, strings.Join(strings.Split(strings.TrimSpace(out), "\n")[2:], "\n"), []want{{"summary", "gaps missed overruns received time type"}})
	})
	t.Run("trace", func(t *testing.T) {
		// Records made a second ago, on the kernel's clock.
		var ts unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		recs := traceRecords()
		recs[0].(*probe.Record).Time = time.Duration(ts.Nano()) - time.Second
		recs[1].(*probe.Inbound).Time = time.Duration(ts.Nano()) - time.Second
		_, out, _ := cnctlTrace(t, t.Context(), nil, &fakeTracer{records: recs}, "trace", "-c", "2", "-json")
		check(t, out, []want{
			{"send", "ack broadcast_missed delivered dropped failed group group_resolved id ktime_ns len losses_only outcome port receivers ret seq time type"},
			{"inbound", "ack id ktime_ns len nlmsg_len nlmsg_pid port seq time type"},
			{"summary", "counters not_recorded outcomes records skips skips.counters_full skips.no_storage skips.recursion skips.ring_buffer " +
				"skips.skipped skips.too_deep skips.unattributed time type user_space_drops"},
		})
		lines := jsonLines(t, out)
		rc := lines[0]["receivers"].([]any)[0].(map[string]any)
		if got := strings.Join(keys(rc, ""), " "); got != "congested drops outcome port rcvbuf rmem_alloc" {
			t.Errorf("receiver fields %s", got)
		}
		c := lines[2]["counters"].(map[string]any)["14:0x4c1"].(map[string]any)
		if got := strings.Join(keys(c, ""), " "); got != "by_errno delivered dropped failed inbound sent unreached" {
			t.Errorf("counters fields %s", got)
		}
		if e := c["by_errno"].(map[string]any); e["ok"] != float64(2) || e["ESRCH"] != float64(1) {
			t.Errorf("by_errno %v, want ok 2 and ESRCH 1", e)
		}
	})
}

func connectorMessage(seq uint32) connector.Message {
	return connector.Message{ID: connector.ID{Idx: 14, Val: 0x4c1}, Seq: seq, Data: make([]byte, 16)}
}

func TestCtlText(t *testing.T) {
	k, mod := controltest.New()
	mod.Stats.LatePending, mod.Stats.LateBytes, mod.Stats.LateBytesMax, mod.Stats.LateDropped = 6, 7000, 8000, 4
	mod.Stats.ExtraReceived, mod.Stats.ExtraInvalid, mod.Stats.TimerTicks, mod.Stats.Notifications = 9, 3, 11, 12
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"stats"}, 0, "echo: received 0, replied 0, invalid 0"},
		{[]string{"ctl", "burst", "-g", "20", "-n", "2"}, 0, "burst: 2 messages, seq 0 to 1: 0 sent, 2 failed"},
		{[]string{"ctl", "timer-start", "-g", "21", "-period", "0.5"}, 0, "timer broadcasts to group 21 every 500ms"},
		{[]string{"ctl", "register", "-id", "14:0x999"}, 0, "registered 14:0x999"},
		{[]string{"stats"}, 0, "further id 14:0x999 in slot 0: received 0, invalid 0"},
		{[]string{"stats"}, 0, "late replies: pending 6 (7000 bytes, at most 8000), dropped 4"},
		{[]string{"stats"}, 0, "further ids: received 9, invalid 3; timer ticks 11; notifications 12"},
		{[]string{"ctl", "unregister", "-id", "14:0x998"}, 1, "refused: no such file or directory"},
	}
	for _, tt := range tests {
		code, out, errOut := cnctl(t, k, tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("cnctl %s: exit %d, output %q%q; want exit %d and %q", strings.Join(tt.args, " "), code, out, errOut, tt.code, tt.want)
		}
	}
	if mod.TimerGroup() != 21 {
		t.Errorf("timer group %d, want 21", mod.TimerGroup())
	}
}

// TestCtlChecksAsTheModule: what the module refuses (control.Model's
// bounds) is a usage error before anything is sent; its bounds themselves
// are sent and taken.
func TestCtlChecksAsTheModule(t *testing.T) {
	refused := [][]string{
		{"ctl", "burst", "-port", "5", "-n", "4294967295"},
		{"ctl", "burst", "-port", "5", "-n", "1000001"},
		{"ctl", "timer-start", "-g", "1", "-period", "1176h"},
		{"ctl", "timer-start", "-g", "1", "-period", "3600.001"},
		{"ctl", "echo-mode", "-count", "4294967295"},
		{"ctl", "echo-mode", "-count", "1000001"},
		{"ctl", "echo-mode", "-mode", "delay", "-delay", "60.001"},
	}
	for _, args := range refused {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			k, mod := controltest.New()
			code, out, errOut := cnctl(t, k, args...)
			if code != 2 || strings.Count(errOut, "\n") != 1 || len(mod.Ops) != 0 {
				t.Fatalf("exit %d, %d requests sent; want 2 and none; stdout %q, stderr %q", code, len(mod.Ops), out, errOut)
			}
		})
	}
	taken := [][]string{
		{"ctl", "burst", "-port", "5", "-n", "0"},
		{"ctl", "timer-start", "-g", "1", "-period", "3600"},
		{"ctl", "echo-mode", "-mode", "delay", "-count", "1000000", "-delay", "60"},
	}
	for _, args := range taken {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			k, _ := controltest.New()
			if code, out, errOut := cnctl(t, k, args...); code != 0 {
				t.Fatalf("exit %d, want 0; stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}
