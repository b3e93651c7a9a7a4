//go:build faults

// The runner's faults, provoked for real: each test boots a guest with the
// runner built from this tree (make faults), so they are kept out of the
// host unit tests.

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cnlab/cnlab/vm/runner"
)

// symbolizedOrHint stands for either of the two ways a trace is reported.
const symbolizedOrHint = "(symbolized, or how to get the symbols)"

// faultKernel is the kernel the faults are provoked on.
var faultKernel = "/boot/vmlinuz-6.1.0-56-amd64"

func buildRunner(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cnlab-vm")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build the runner: %v\n%s", err, out)
	}
	return bin
}

// faultModule builds the module that provokes kernel trouble on purpose
// (testdata/cnlab_fault) against the faults' kernel, and returns the -add
// argument that puts it in the guest.
func faultModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"Kbuild", "cnlab_fault.c"} {
		b, err := os.ReadFile(filepath.Join("testdata", "cnlab_fault", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("make", "-C", faultKDIR, "M="+dir, "modules").CombinedOutput(); err != nil {
		t.Fatalf("build the fault module: %v\n%s", err, out)
	}
	return filepath.Join(dir, "cnlab_fault.ko") + ":/lib/cnlab_fault.ko"
}

// faultKDIR is the build tree of faultKernel.
var faultKDIR = "/lib/modules/6.1.0-56-amd64/build"

// summaryOf reads the summary.json of the faults' kernel's run whose
// results went to out.
func summaryOf(t *testing.T, out string) runner.Summary {
	t.Helper()
	var s runner.Summary
	b, err := os.ReadFile(filepath.Join(out, "6.1.0-56-amd64", "summary.json"))
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	return s
}

func TestFaults(t *testing.T) {
	bin := buildRunner(t)
	src, _ := filepath.Abs("../../..")
	fault := faultModule(t)
	// liveVerdict checks that the run ended soon after the kernel's
	// report, not at a watchdog.
	liveVerdict := func(t *testing.T, s runner.Summary) {
		if s.TroubleSeconds == 0 {
			t.Errorf("summary.json does not say when the trouble showed: %+v", s)
		}
		if d := s.Seconds - s.TroubleSeconds; d > 30 {
			t.Errorf("the run ended %.1fs after the kernel's report, want within 30s", d)
		}
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
		check    func(t *testing.T, s runner.Summary)
	}{
		{"kernel panic", []string{"-exec", "@sysrq c"}, runner.ExitKernel,
			[]string{"kernel failure", "the kernel logged a kernel panic", "sysrq triggered crash", symbolizedOrHint}, nil},
		{"oops in a background step while the foreground hangs", []string{"-add", fault, "-exec-stop", "cnctl listen -g 21",
			"-exec", "@insmod /lib/cnlab_fault.ko what=oops &", "-exec", "@sleep 1h"}, runner.ExitKernel,
			[]string{"the kernel reports trouble", "the kernel logged a BUG", "NULL pointer dereference"}, liveVerdict},
		{"WARNING", []string{"-add", fault, "-exec", "@insmod /lib/cnlab_fault.ko what=warn", "-exec", "@sleep 1h"}, runner.ExitKernel,
			[]string{"the kernel logged a WARNING", "cnlab_fault_init", "a warning, on purpose"}, liveVerdict},
		{"WARNING under -strict panics", []string{"-strict", "-add", fault, "-exec", "@insmod /lib/cnlab_fault.ko what=warn", "-exec", "@sleep 1h"}, runner.ExitKernel,
			[]string{"the kernel logged a WARNING", "Kernel panic - not syncing"}, nil},
		{"hung task", []string{"-add", fault, "-exec", "@write /proc/sys/kernel/hung_task_timeout_secs 2",
			"-exec", "@insmod /lib/cnlab_fault.ko what=hung", "-exec", "@sleep 1h"}, runner.ExitKernel,
			[]string{"the kernel logged a hung task", "cnlab_fault"}, liveVerdict},
		{"soft lockup", []string{"-add", fault, "-exec", "@write /proc/sys/kernel/watchdog_thresh 1",
			"-exec", "@insmod /lib/cnlab_fault.ko what=softlockup", "-exec", "@sleep 1h"}, runner.ExitKernel,
			[]string{"the kernel logged a soft lockup"}, liveVerdict},
		{"RCU stall", []string{"-cpus", "2", "-add", fault, "-exec", "@write /proc/sys/kernel/watchdog_thresh 60",
			"-exec", "@write /sys/module/rcupdate/parameters/rcu_cpu_stall_timeout 3",
			"-exec", "@insmod /lib/cnlab_fault.ko what=rcu_stall", "-exec", "@sleep 1h"}, runner.ExitKernel,
			[]string{"the kernel logged a RCU stall"}, liveVerdict},
		{"guest hangs at boot", []string{"-append", "cnlab.hang=boot", "-boot-timeout", "20s"}, runner.ExitInfra,
			[]string{"boot watchdog: the guest did not reach /init within 20s"}, nil},
		{"test binary hangs", []string{"-exec", "@sleep 1h", "-timeout", "10s"}, runner.ExitInfra,
			[]string{"run watchdog: step exec1 did not finish within 10s"}, nil},
		{"a quiet step in a live guest is no silence", []string{"-exec", "@sleep 25s", "-silence-timeout", "15s"}, runner.ExitPassed,
			[]string{"passed on 6.1.0-56-amd64"}, nil},
		{"a guest that says nothing", []string{"-append", "cnlab.heartbeat=off", "-exec", "@sleep 1h", "-silence-timeout", "10s"}, runner.ExitInfra,
			[]string{"no-output watchdog: neither the console nor the results port said anything for 10s while step exec1 ran"}, nil},
		{"module fails to load", []string{"-module-params", "echo_val=0x4c0"}, runner.ExitFailed,
			[]string{"load module /lib/cnlab/cnlab.ko", "invalid argument", "echo and control ids are both"}, nil},
		{"guest runs out of memory", []string{"-memory", "256M", "-exec", "@alloc 1024"}, runner.ExitKernel,
			[]string{"the kernel logged a out of memory", "Out of memory: Killed process"}, nil},
		{"a step's line of 5 MB and a listener stopped at the end", []string{"-exec-stop", "cnctl listen -g 21", "-exec", "@print 5000000", "-exec", "cnctl stats"}, runner.ExitPassed,
			[]string{"passed on 6.1.0-56-amd64"}, nil},
		{"a bundle that cannot be written keeps the run's code", []string{"-exec", "@sysrq c", "-bundle", "/nonexistent/dir/b.tgz"}, runner.ExitKernel,
			[]string{"could not write the bundle /nonexistent/dir/b.tgz", "the exit code is still the run's own"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Two guests at a time, one CPU each unless the case
			// says otherwise, each with results of its own.
			t.Parallel()
			out := t.TempDir()
			args := []string{"-src", src, "-out", out, "-kernel", faultKernel, "-accel", "tcg", "-console-lines", "40"}
			if !slices.Contains(tt.args, "-cpus") {
				args = append(args, "-cpus", "1")
			}
			args = append(args, tt.args...)
			cmd := exec.Command(bin, args...)
			output, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			for _, w := range tt.want {
				if w == symbolizedOrHint {
					// The trace is symbolized where Debian's -dbg
					// symbols are installed; elsewhere the report
					// says how to install them.
					if !bytes.Contains(output, []byte("the trace, symbolized")) && !bytes.Contains(output, []byte("apt-get install linux-image-6.1.0-56-amd64-dbg")) {
						t.Errorf("output neither symbolizes the trace nor says how to get the symbols")
					}
					continue
				}
				if !bytes.Contains(output, []byte(w)) {
					t.Errorf("output lacks %q", w)
				}
			}
			if tt.check != nil {
				tt.check(t, summaryOf(t, out))
			}
			if t.Failed() {
				if len(output) > 64<<10 {
					output = output[len(output)-64<<10:]
				}
				t.Logf("output:\n%s", output)
			}
		})
	}
}

// TestModuleDoesNotBuild breaks the module in a copy of the source tree:
// exit 4, apart from the runs that could not be done.
func TestModuleDoesNotBuild(t *testing.T) {
	bin := buildRunner(t)
	src, _ := filepath.Abs("../../..")
	copyDir := t.TempDir()
	if out, err := exec.Command("sh", "-c", "git -C "+src+" ls-files -z --cached --others --exclude-standard | (cd "+src+" && xargs -0 cp --parents -t "+copyDir+" 2>/dev/null); true").CombinedOutput(); err != nil {
		t.Fatalf("copy the source: %v\n%s", err, out)
	}
	cs, _ := filepath.Glob(filepath.Join(copyDir, "kmod", "*.c"))
	if len(cs) == 0 {
		t.Fatal("no module source in the copy")
	}
	f, err := os.OpenFile(cs[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "#error broken on purpose by the faults test")
	f.Close()
	out, err := exec.Command(bin, "-src", copyDir, "-kernel", faultKernel, "-accel", "tcg", "-exec", "cnctl stats").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != runner.ExitBuild {
		t.Errorf("runner ended with %v, want exit code %d", err, runner.ExitBuild)
	}
	for _, w := range []string{"broken on purpose", "module does not build"} {
		if !bytes.Contains(out, []byte(w)) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestKilled kills the runner, and QEMU under it, as nothing should: the
// runner's SIGKILL must take QEMU with it and leave no temporary file, and
// QEMU's must end the run with exit 3, named.
func TestKilled(t *testing.T) {
	bin := buildRunner(t)
	src, _ := filepath.Abs("../../..")
	for _, victim := range []string{"runner", "qemu"} {
		t.Run(victim, func(t *testing.T) {
			tmp := t.TempDir()
			cmd := exec.Command(bin, "-src", src, "-kernel", faultKernel, "-accel", "tcg", "-exec", "@sleep 1h")
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			qemu := waitForQEMU(t, cmd, &out)
			if victim == "runner" {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				deadline := time.Now().Add(10 * time.Second)
				for _, pid := range qemu {
					for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
						time.Sleep(100 * time.Millisecond)
					}
					if syscall.Kill(pid, 0) == nil {
						t.Errorf("QEMU (pid %d) still runs after its runner was killed", pid)
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			} else {
				for _, pid := range qemu {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
				err := cmd.Wait()
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != runner.ExitInfra {
					t.Errorf("runner ended with %v, want exit code %d", err, runner.ExitInfra)
				}
				if !strings.Contains(out.String(), "QEMU was killed by signal killed") {
					t.Errorf("output does not say QEMU was killed:\n%s", out.String())
				}
			}
			left, _ := filepath.Glob(filepath.Join(tmp, "*"))
			if len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
			if b, _ := os.ReadFile("/proc/net/unix"); bytes.Contains(b, []byte(fmt.Sprintf("@cnlab-results-%d-", cmd.Process.Pid))) {
				t.Errorf("the runner's results socket is still there:\n%s", b)
			}
		})
	}
}

// waitForQEMU waits until the runner has started QEMU and returns its pid.
func waitForQEMU(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer) []int {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if q := qemuChildren(cmd.Process.Pid); len(q) > 0 {
			time.Sleep(3 * time.Second)
			return q
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	t.Fatalf("no QEMU under the runner; output:\n%s", out.String())
	return nil
}

// TestMatrixInterrupt interrupts a matrix while its first kernel runs: the
// others must not be built or booted.
func TestMatrixInterrupt(t *testing.T) {
	bin := buildRunner(t)
	src, _ := filepath.Abs("../../..")
	conf := filepath.Join(t.TempDir(), "kernels.conf")
	if err := os.WriteFile(conf, []byte("6.1\t6.1.0-56-amd64\t6.1.192-2\n6.12\t6.12.95+deb12-amd64\t6.12.95-1~bpo12+1\n6.12-rt\t6.12.95+deb12-rt-amd64\t6.12.95-1~bpo12+1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	results := t.TempDir()
	cmd := exec.Command(bin, "-src", src, "-out", results, "-matrix", conf, "-jobs", "1", "-accel", "tcg", "-exec", "@sleep 1h")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForQEMU(t, cmd, &out)
	start := time.Now()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // as a Ctrl-C at the terminal
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != runner.ExitInterrupted {
		t.Errorf("runner ended with %v, want exit code %d", err, runner.ExitInterrupted)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the matrix took %v to stop", d)
	}
	if n := strings.Count(out.String(), "interrupted before it started"); n != 2 {
		t.Errorf("%d kernels say they were interrupted before they started, want 2:\n%s", n, out.String())
	}
	booted, _ := filepath.Glob(filepath.Join(results, "*", "console.log"))
	built, _ := filepath.Glob(filepath.Join(results, "*", "kmod"))
	if len(booted) != 1 || len(built) != 1 {
		t.Errorf("%d kernels booted and %d built (%v, %v), want the first alone:\n%s", len(booted), len(built), booted, built, out.String())
	}
	summaries, _ := filepath.Glob(filepath.Join(results, "*", "summary.json"))
	if len(summaries) != 3 {
		t.Errorf("%d kernels wrote summary.json, want all 3 (%v)", len(summaries), summaries)
	}
}

// TestInterrupt interrupts the runner mid-run, as Ctrl-C does, and checks
// that it stops QEMU and leaves no temporary directory behind.
func TestInterrupt(t *testing.T) {
	bin := buildRunner(t)
	src, _ := filepath.Abs("../../..")
	tmp := t.TempDir()
	cmd := exec.Command(bin, "-src", src, "-kernel", faultKernel, "-accel", "tcg", "-exec", "@sleep 1h")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until QEMU runs, then interrupt.
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "booting") && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	qemu := qemuChildren(cmd.Process.Pid)
	if len(qemu) == 0 {
		t.Fatalf("no QEMU under the runner to interrupt; output:\n%s", out.String())
	}
	start := time.Now()
	// A Ctrl-C at the terminal signals the whole process group.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != runner.ExitInterrupted {
		t.Errorf("runner ended with %v, want exit code %d", err, runner.ExitInterrupted)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the runner took %v to stop", d)
	}
	for _, pid := range qemu {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("QEMU (pid %d) still runs after the interrupt", pid)
		}
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	if !strings.Contains(out.String(), "interrupted") {
		t.Errorf("output does not say the run was interrupted:\n%s", out.String())
	}
}

// qemuChildren returns the pids of QEMU processes whose parent is pid.
func qemuChildren(pid int) []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndex(s, ")")
		if i < 0 || !strings.Contains(s[:i], "qemu-system") {
			continue
		}
		f := strings.Fields(s[i+1:]) // state, ppid, ...
		if len(f) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil || ppid != pid {
			continue
		}
		if child, err := strconv.Atoi(strings.Fields(s)[0]); err == nil {
			out = append(out, child)
		}
	}
	return out
}

// TestBundleReplays makes a bundle of a deliberately failing run (the echo
// answers with a wrong ack) and replays it: the same verdict, for the same
// reason.
func TestBundleReplays(t *testing.T) {
	bin := buildRunner(t)
	src, _ := filepath.Abs("../../..")
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle.tar.gz")
	run := exec.Command(bin, "-src", src, "-kernel", faultKernel, "-accel", "tcg", "-labels", "echo", "-focus", "replies once",
		"-module-params", "ack_skew=1", "-bundle", bundle, "-add", "/etc/hostname:/tmp/hostname")
	out, err := run.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != runner.ExitFailed {
		t.Fatalf("the failing run: %v, want exit %d\n%s", err, runner.ExitFailed, out)
	}
	if x, err := exec.Command("tar", "-C", dir, "-xzf", bundle).CombinedOutput(); err != nil {
		t.Fatalf("unpack the bundle: %v\n%s", err, x)
	}
	for _, f := range []string{"cmdline.txt", "revision.txt", "source.tar", "kernels.txt", "replay.sh",
		"6.1.0-56-amd64/config", "6.1.0-56-amd64/console.log", "6.1.0-56-amd64/results.ktap", "6.1.0-56-amd64/module-build.log",
		"6.1.0-56-amd64/probe-records.jsonl.gz", "6.1.0-56-amd64/summary.json", "added/1-hostname"} {
		if _, err := os.Stat(filepath.Join(dir, "cnlab-bundle", f)); err != nil {
			t.Errorf("the bundle lacks %s", f)
		}
	}
	if recs, err := exec.Command("sh", "-c", "gzip -dc "+filepath.Join(dir, "cnlab-bundle", "6.1.0-56-amd64", "probe-records.jsonl.gz")+" | grep -c '\"type\":\"send\"'").Output(); err != nil || strings.TrimSpace(string(recs)) == "0" {
		t.Errorf("the bundle's probe records hold no send record: %v %s", err, recs)
	}
	replay := exec.Command("sh", filepath.Join(dir, "cnlab-bundle", "replay.sh"))
	rout, err := replay.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != runner.ExitFailed {
		t.Fatalf("the replay: %v, want exit %d like the original\n%s", err, runner.ExitFailed, rout)
	}
	for _, w := range []string{"not a reply", "replies once"} {
		if !bytes.Contains(rout, []byte(w)) {
			t.Errorf("the replay's output lacks %q", w)
		}
	}
}
