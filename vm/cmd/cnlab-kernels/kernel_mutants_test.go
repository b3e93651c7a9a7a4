package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeKernels plays cnlab-kernels for scripts/kernel-mutants.sh: a patch
// named *noapply* or *nobuild* is refused the way cnlab-kernels refuses
// one, any other gets a kernel directory named for it.
const fakeKernels = `#!/usr/bin/env bash
p=""
while [ $# -gt 1 ]; do case $1 in -patches) p=$2; shift 2 ;; -print | -j) shift 2 ;; *) shift ;; esac; done
n=$(basename "${p:-base}" .patch)
case $n in
*noapply*) echo "cnlab-kernels: kernel 7.2 with $n.patch: $n.patch does not apply: drivers/connector/connector.c: Hunk #1 FAILED at 145. (log: x)" >&2; exit 3 ;;
*nobuild*) echo "cnlab-kernels: kernel 7.2 with $n.patch: it does not build: ../drivers/connector/connector.c:146:9: error: expected ';' (in a file $n.patch changes) (log: x)" >&2; exit 3 ;;
esac
d=$FAKE_DIR/k/$n
mkdir -p "$d" && echo '{"Release":"7.2.13-cnlab"}' >"$d/cnlab-kernel.json" && echo "$d"
`

// fakeRunner plays cnlab-vm: a kernel named *kill* fails a spec, *oops*
// gets the kernel's verdict, any other passes; each run's labels are
// written down.
const fakeRunner = `#!/usr/bin/env bash
labels=""
while [ $# -gt 0 ]; do case $1 in -out) out=$2; shift 2 ;; -kernel-dir) kd=$2; shift 2 ;; -labels) labels=$2; shift 2 ;; *) shift ;; esac; done
echo "$(basename "$kd") $labels" >>"$FAKE_DIR/runs"
d=$out/7.2.13-cnlab
mkdir -p "$d"
case $kd in
*kill*) echo '[{"SpecReports":[{"State":"failed","ContainerHierarchyTexts":["The echo callback"],"LeafNodeText":"replies once","LeafNodeType":"It"}]}]' >"$d/e2e-report.json"; exit 1 ;;
*oops*) echo '{"reason":"kernel oops: BUG: kernel NULL pointer dereference"}' >"$d/summary.json"; exit 2 ;;
*hang*) printf '%s\n' 'A receive queue that overflows loses unicasts [drops]' 'github.com/cnlab/cnlab/e2e/overflow_test.go:71' 'cnlab-vm: why: run watchdog: step e2e did not finish within 6m0s'; exit 3 ;;
*broken*) echo 'cnlab-vm: QEMU exited before the guest reached /init'; exit 3 ;;
esac
exit 0
`

func TestKernelMutantsTable(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq is not installed (make setup)")
	}
	top, _ := filepath.Abs("../../..")
	dir := t.TempDir()
	bin := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	kernels, runner := bin("kernels", fakeKernels), bin("runner", fakeRunner)
	mutant := func(name, header string) string {
		p := filepath.Join(dir, "mutants", name+".patch")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("Mutant "+name+": a bug.\n"+header+"\n--- a/x\n+++ b/x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(t *testing.T, patches ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(filepath.Join(top, "scripts", "kernel-mutants.sh"), patches...)
		cmd.Dir = top
		cmd.Env = append(os.Environ(), "KERNEL=7.2", "RUNNER="+runner, "KERNELS_BIN="+kernels, "FAKE_DIR="+dir,
			"MUTANTS_WORK="+filepath.Join(dir, "work"), "CNLAB_VM_LOCK="+filepath.Join(dir, "vm.lock"), "MUTANTS_BATCH=2", "VMFLAGS=")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		table, rerr := os.ReadFile(filepath.Join(dir, "work", "table.txt"))
		if rerr != nil {
			t.Fatalf("no table (%v); output:\n%s", rerr, out)
		}
		return string(table), code
	}

	t.Run("every kind of row, in the mutants' order, the unmutated kernel first", func(t *testing.T) {
		_ = os.Remove(filepath.Join(dir, "runs"))
		table, code := run(t,
			mutant("a-kill", "Kernel: 7.2"),
			mutant("b-oops", "Kernel: 7.2\nLabels: proc || echo"),
			mutant("c-survives", "Kernel: 7.2\nLabels: proc"),
			mutant("d-noapply", "Kernel: 7.2"),
			mutant("e-nobuild", "Kernel: 7.2"),
			mutant("f-unseen", "Kernel: 7.2\nLabels: proc\nUnseen: the same code in C"),
			mutant("g-other-kernel", "Kernel: 6.1-debug"),
			mutant("h-hang", "Kernel: 7.2"),
			mutant("i-broken", "Kernel: 7.2"))
		if code != 1 {
			t.Errorf("exit %d, want 1 (c-survives survived)\n%s", code, table)
		}
		want := []string{
			"MUTANT", "none passed (unmutated)",
			"a-kill killed by: The echo callback replies once",
			"b-oops killed by the kernel's verdict: kernel oops: BUG: kernel NULL pointer dereference",
			"c-survives SURVIVED",
			"d-noapply DOES NOT APPLY: drivers/connector/connector.c: Hunk #1 FAILED at 145.",
			"e-nobuild DOES NOT BUILD: ../drivers/connector/connector.c:146:9: error: expected ';'",
			"f-unseen UNSEEN BY USER SPACE (survived): the same code in C",
			"g-other-kernel NOT RUN: written for kernel 6.1-debug",
			"h-hang killed by a hang: run watchdog: step e2e did not finish within 6m0s, in A receive queue that overflows loses unicasts [drops]",
			"i-broken COULD NOT RUN, exit 3",
		}
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if len(lines) != len(want) {
			t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), table)
		}
		for i, w := range want {
			if got := strings.Join(strings.Fields(lines[i]), " "); !strings.HasPrefix(got, w) {
				t.Errorf("line %d: %q\nwant it to start with %q", i, got, w)
			}
		}
		runs, _ := os.ReadFile(filepath.Join(dir, "runs"))
		for _, w := range []string{"base \n", "b-oops proc || echo\n", "c-survives proc\n"} {
			if !strings.Contains(string(runs), w) {
				t.Errorf("no run %q among:\n%s", w, runs)
			}
		}
		if strings.Contains(string(runs), "noapply") || strings.Contains(string(runs), "other-kernel") {
			t.Errorf("a kernel not built was run:\n%s", runs)
		}
	})
	t.Run("every mutant killed or unseen: exit 0", func(t *testing.T) {
		table, code := run(t, mutant("a-kill", "Kernel: 7.2"), mutant("f-unseen", "Kernel: 7.2\nUnseen: why"))
		if code != 0 {
			t.Errorf("exit %d, want 0\n%s", code, table)
		}
	})
}
