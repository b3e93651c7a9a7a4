//go:build faults

// The runner's faults, provoked for real: each test boots a guest with the
// runner built from this tree (make faults), so they are kept out of the
// host unit tests.

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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

func TestFaults(t *testing.T) {
	bin := buildRunner(t)
	src, _ := filepath.Abs("../../..")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"kernel panic", []string{"-exec", "@sysrq c"}, runner.ExitKernel,
			[]string{"kernel failure", "the kernel logged a kernel panic", "sysrq triggered crash", symbolizedOrHint}},
		{"guest hangs at boot", []string{"-append", "cnlab.hang=boot", "-boot-timeout", "20s"}, runner.ExitInfra,
			[]string{"boot watchdog: the guest did not reach /init within 20s"}},
		{"test binary hangs", []string{"-exec", "@sleep 1h", "-timeout", "10s"}, runner.ExitInfra,
			[]string{"run watchdog: step exec1 did not finish within 10s"}},
		{"module fails to load", []string{"-module-params", "echo_val=0x4c0"}, runner.ExitFailed,
			[]string{"load module /lib/cnlab/cnlab.ko", "invalid argument", "echo and control ids are both"}},
		{"guest runs out of memory", []string{"-memory", "256M", "-exec", "@alloc 1024"}, runner.ExitKernel,
			[]string{"the kernel logged a out of memory", "Out of memory: Killed process"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-src", src, "-kernel", faultKernel, "-accel", "tcg", "-console-lines", "40"}, tt.args...)
			cmd := exec.Command(bin, args...)
			out, err := cmd.CombinedOutput()
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
					if !bytes.Contains(out, []byte("the trace, symbolized")) && !bytes.Contains(out, []byte("apt-get install linux-image-6.1.0-56-amd64-dbg")) {
						t.Errorf("output neither symbolizes the trace nor says how to get the symbols")
					}
					continue
				}
				if !bytes.Contains(out, []byte(w)) {
					t.Errorf("output lacks %q", w)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
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
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
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
		"-module-params", "ack_skew=1", "-bundle", bundle)
	out, err := run.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != runner.ExitFailed {
		t.Fatalf("the failing run: %v, want exit %d\n%s", err, runner.ExitFailed, out)
	}
	if x, err := exec.Command("tar", "-C", dir, "-xzf", bundle).CombinedOutput(); err != nil {
		t.Fatalf("unpack the bundle: %v\n%s", err, x)
	}
	for _, f := range []string{"cmdline.txt", "revision.txt", "source.tar", "kernels.txt", "replay.sh",
		"6.1.0-56-amd64/config", "6.1.0-56-amd64/console.log", "6.1.0-56-amd64/results.ktap", "6.1.0-56-amd64/module-build.log",
		"6.1.0-56-amd64/probe-records.jsonl.gz"} {
		if _, err := os.Stat(filepath.Join(dir, "cnlab-bundle", f)); err != nil {
			t.Errorf("the bundle lacks %s", f)
		}
	}
	if recs, err := exec.Command("sh", "-c", "gzip -dc "+filepath.Join(dir, "cnlab-bundle", "6.1.0-56-amd64", "probe-records.jsonl.gz")+" | grep -c '\"kind\":\"send\"'").Output(); err != nil || strings.TrimSpace(string(recs)) == "0" {
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
