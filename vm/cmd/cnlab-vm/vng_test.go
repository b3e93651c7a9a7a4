//go:build faults

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cnlab/cnlab/vm/report"
)

// TestVngMatchesQEMU runs the same specs, with the same seed, booted by
// QEMU and by virtme-ng: the same specs, with the same results.
func TestVngMatchesQEMU(t *testing.T) {
	if _, err := exec.LookPath("vng"); err != nil {
		t.Fatalf("virtme-ng: %v (make setup-vng installs it)", err)
	}
	bin := buildRunner(t)
	src, _ := filepath.Abs("../../..")
	specs := map[string][]string{}
	for _, vmm := range []string{"qemu", "vng"} {
		out := t.TempDir()
		cmd := exec.Command(bin, "-src", src, "-out", out, "-vmm", vmm, "-kernel", faultKernel, "-accel", "tcg",
			"-labels", "echo || genealogy || groups || timer || ids || security", "-seed", "20261126")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("-vmm %s: %v\n%s", vmm, err, b)
		}
		b, err := os.ReadFile(filepath.Join(out, "6.1.0-56-amd64", "e2e-report.json"))
		if err != nil {
			t.Fatal(err)
		}
		suites, err := report.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range suites {
			for _, sp := range s.Specs {
				specs[vmm] = append(specs[vmm], fmt.Sprintf("%s: %s", sp.State, sp.Name))
			}
		}
	}
	if len(specs["qemu"]) == 0 || !slices.Equal(specs["qemu"], specs["vng"]) {
		t.Errorf("the results differ:\nqemu: %q\nvng:  %q", specs["qemu"], specs["vng"])
	}
}
