package vm

import (
	"strings"
	"testing"
)

func TestScanConsole(t *testing.T) {
	tests := []struct {
		name string
		line string
		want string
	}{
		{"panic", "[    3.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100", "kernel panic"},
		{"null deref", "[   12.0] BUG: kernel NULL pointer dereference, address: 0000000000000008", "BUG"},
		{"soft lockup", "[   30.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [e2e.test:80]", "soft lockup"},
		{"hard lockup", "[   30.0] NMI watchdog: Watchdog detected hard LOCKUP on cpu 1", "hard lockup"},
		{"rcu stall", "[   40.0] rcu: INFO: rcu_preempt self-detected stall on CPU", "RCU stall"},
		{"rcu stall, other cpu", "[   40.0] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:", "RCU stall"},
		{"inconsistent lock state", "[    9.9] WARNING: inconsistent lock state", "lockdep report"},
		{"recursive locking", "[    9.9] WARNING: possible recursive locking detected", "lockdep report"},
		{"suspicious rcu", "[    9.9] WARNING: suspicious RCU usage", "lockdep report"},
		{"sleep in atomic", "[    9.9] BUG: sleeping function called from invalid context at mm/slab.h:123", "sleep in atomic context"},
		{"odebug", "[    9.9] ODEBUG: free active (active state 0) object: 000000 object type: timer_list hint: cnlab_tick+0x0/0x10 [cnlab]", "debugobjects report"},
		{"list corruption", "[    9.9] list_del corruption. prev->next should be ffff8880, but was dead000000000100", "list corruption"},
		{"BUG_ON", "[    5.0] kernel BUG at drivers/connector/connector.c:42!", "BUG"},
		{"WARN_ON", "[    9.9] WARNING: CPU: 0 PID: 81 at kmod/cnlab_echo.c:20 cnlab_echo_cb+0x1/0x2 [cnlab]", "WARNING"},
		{"lockdep", "[    9.9] WARNING: possible circular locking dependency detected", "lockdep report"},
		{"oops", "[    9.9] Oops: 0002 [#1] PREEMPT SMP NOPTI", "Oops"},
		{"gpf", "[    9.9] general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP", "general protection fault"},
		{"kasan", "[    9.9] BUG: KASAN: slab-out-of-bounds in cnlab_echo_cb+0x2/0x3", "KASAN report"},
		{"ubsan", "[    9.9] UBSAN: shift-out-of-bounds in kmod/cnlab_echo.c:20:5", "UBSAN report"},
		{"hung task", "[  245.1] INFO: task e2e.test:90 blocked for more than 120 seconds.", "hung task"},
		{"oom", "[   12.3] Out of memory: Killed process 97 (init) total-vm:1052000kB", "out of memory"},
		{"taint is fine", "[    2.1] cnlab: loading out-of-tree module taints kernel.", ""},
		{"signature is fine", "[    2.1] cnlab: module verification failed: signature and/or required key missing - tainting kernel", ""},
		{"word warning is fine", "[    0.1] x86/fpu: warning: something unrelated", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ScanConsole("[    0.0] Linux version 6.1.0\n" + tt.line + "\n")
			switch {
			case tt.want == "" && len(got) != 0:
				t.Fatalf("flagged %q as %s", tt.line, got[0].What)
			case tt.want != "" && (len(got) != 1 || got[0].What != tt.want):
				t.Fatalf("ScanConsole(%q) = %+v, want one %s", tt.line, got, tt.want)
			}
		})
	}
}

func TestTroubleTrace(t *testing.T) {
	log := strings.Join([]string{
		"[    1.0] booting",
		"[    2.0] WARNING: CPU: 0 PID: 9 at kmod/cnlab_echo.c:20 cnlab_echo_cb+0x1/0x2 [cnlab]",
		"[    2.0] Call Trace:",
		"[    2.0]  cnlab_echo_cb+0x1/0x2 [cnlab]",
		"[    2.0] ---[ end trace 0000000000000000 ]---",
		"[    3.0] after",
	}, "\n")
	got := TroubleTrace(log)
	if !strings.HasPrefix(got, "[    2.0] WARNING") || !strings.HasSuffix(got, "]---") || strings.Contains(got, "after") {
		t.Fatalf("TroubleTrace = %q", got)
	}
	if TroubleTrace("[ 1.0] all fine") != "" {
		t.Fatal("a clean log has a trace")
	}
}

func TestTroubleReport(t *testing.T) {
	log := "[ 1.0] boot\r\n[ 3.0] ------------[ cut here ]------------\r\n[ 3.0] cnlab_fault: a warning, on purpose\r\n[ 3.0] WARNING: CPU: 0 PID: 85 at x.c:48 f+0x2c/0x1000\r\n[ 3.1] Call Trace:\r\n[ 3.2] later\r\n"
	got := TroubleReport(log, 3, 2)
	want := "[ 1.0] boot\n[ 3.0] ------------[ cut here ]------------\n[ 3.0] cnlab_fault: a warning, on purpose\n[ 3.0] WARNING: CPU: 0 PID: 85 at x.c:48 f+0x2c/0x1000\n[ 3.1] Call Trace:"
	if got != want {
		t.Errorf("TroubleReport =\n%s\nwant\n%s", got, want)
	}
	if TroubleReport("[ 1.0] boot\n", 3, 2) != "" {
		t.Error("a report where the console shows no trouble")
	}
}
