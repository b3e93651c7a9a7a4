//go:build faults

package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestKernelDir exports a Debian kernel as a kernel directory from this
// checkout, and runs the suites on it from a second, clean checkout with
// -kernel-dir alone.
func TestKernelDir(t *testing.T) {
	bin := buildRunner(t)
	src, _ := filepath.Abs("../../..")
	kdir := filepath.Join(t.TempDir(), "kernel-6.1")
	if out, err := exec.Command(bin, "-src", src, "-export-kernel", "6.1", kdir).CombinedOutput(); err != nil {
		t.Fatalf("-export-kernel: %v\n%s", err, out)
	}
	clone := filepath.Join(t.TempDir(), "cnlab")
	if out, err := exec.Command("git", "clone", "-q", src, clone).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	run := exec.Command("go", "run", "./vm/cmd/cnlab-vm", "-kernel-dir", kdir, "-accel", "tcg", "-labels", "echo")
	run.Dir = clone
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the suites from a clean checkout on the exported kernel: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "passed on 6.1.0-56-amd64") {
		t.Errorf("the run does not say it passed on 6.1:\n%s", out)
	}
}
