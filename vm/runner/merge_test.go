package runner

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/reporters"

	"github.com/cnlab/cnlab/vm/report"
)

// fakeResults writes one kernel's results as a run would.
func fakeResults(t *testing.T, dir, name, release string, code int, specs []report.Spec) {
	t.Helper()
	r := &kernelResult{t: target{Name: name, Release: release}, dir: filepath.Join(dir, release), code: code,
		suites: []report.Suite{{Name: "cnlab e2e on " + release, Specs: specs}}}
	for _, sp := range specs {
		switch sp.State {
		case report.Passed:
			r.counts.Passed++
		case report.Failed:
			r.counts.Failed++
		}
	}
	writeResults(r, report.Verdict{Passed: code == ExitPassed, Reason: "a reason"})
}

func TestMerge(t *testing.T) {
	in := t.TempDir()
	pass := []report.Spec{{Name: "echo replies", State: report.Passed}}
	fail := []report.Spec{{Name: "echo replies", State: report.Failed, Message: "Expected"}}
	fakeResults(t, filepath.Join(in, "job-6.1"), "6.1", "6.1.0-56-amd64", ExitPassed, pass)
	fakeResults(t, filepath.Join(in, "job-6.12"), "6.12", "6.12.95+deb12-amd64", ExitKernel, fail)
	fakeResults(t, filepath.Join(in, "job-7.3"), "7.3-rc", "7.3.0-rc7-cnlab", ExitFailed, fail)

	tests := []struct {
		name     string
		mayFail  map[string]bool
		wantCode int
	}{
		{"the worst kernel decides", nil, ExitKernel},
		{"a may-fail kernel fails nothing", map[string]bool{"6.12": true, "7.3-rc": true}, ExitPassed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			m, err := Merge(out, []string{in}, tt.mayFail)
			if err != nil {
				t.Fatal(err)
			}
			if m.ExitCode != tt.wantCode || len(m.Kernels) != 3 {
				t.Errorf("merged %d kernels, exit %d; want 3, %d", len(m.Kernels), m.ExitCode, tt.wantCode)
			}
			b, err := os.ReadFile(filepath.Join(out, "results.junit.xml"))
			if err != nil {
				t.Fatal(err)
			}
			var j reporters.JUnitTestSuites
			if err := xml.Unmarshal(b, &j); err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, s := range j.TestSuites {
				if names[s.Name] {
					t.Errorf("suite %q twice in the merged JUnit", s.Name)
				}
				names[s.Name] = true
			}
			if len(j.TestSuites) != 6 || j.Failures != 2 || j.Tests != 6 {
				t.Errorf("merged JUnit: %d suites, %d tests, %d failures; want 6, 6, 2:\n%s", len(j.TestSuites), j.Tests, j.Failures, b)
			}
			md, _ := os.ReadFile(filepath.Join(out, "summary.md"))
			for _, w := range []string{"| 6.1 | 6.1.0-56-amd64 | passed |", "| 6.12", "| 7.3-rc", "matrix exit code"} {
				if !strings.Contains(string(md), w) {
					t.Errorf("summary.md lacks %q:\n%s", w, md)
				}
			}
			if tt.mayFail["7.3-rc"] && !strings.Contains(string(md), "7.3-rc (may fail)") {
				t.Errorf("summary.md does not mark the may-fail kernel:\n%s", md)
			}
			checkKTAP(t, filepath.Join(out, "results.ktap"), map[string]string{
				"6.1": "PASS", "6.12": map[bool]string{true: "SKIP", false: "FAIL"}[tt.mayFail["6.12"]],
			})
		})
	}
	if _, err := Merge(t.TempDir(), []string{t.TempDir()}, nil); err == nil || !strings.Contains(err.Error(), "nothing to merge") {
		t.Errorf("merging nothing: %v, want an error saying so", err)
	}
}

// checkKTAP parses a KTAP file with the kernel's own parser and checks the
// status of the top-level tests.
func checkKTAP(t *testing.T, path string, want map[string]string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	tool := filepath.Join(filepath.Dir(file), "../../.cache/linux-source-6.1/tools/testing/kunit/kunit.py")
	if _, err := os.Stat(tool); err != nil {
		t.Fatalf("the kernel's KTAP parser: %v (make setup unpacks it from linux-source-6.1)", err)
	}
	out, _ := exec.Command("python3", tool, "parse", path).CombinedOutput()
	if strings.Contains(string(out), "[ERROR]") || strings.Contains(string(out), "could not find any KTAP output") {
		b, _ := os.ReadFile(path)
		t.Fatalf("kunit.py found errors in the merged KTAP:\n%s\n--- KTAP:\n%s", out, b)
	}
	for name, status := range want {
		if !strings.Contains(string(out), "] "+map[string]string{"PASS": "[PASSED]", "FAIL": "[FAILED]", "SKIP": "[SKIPPED]"}[status]+" "+name+"\n") &&
			!strings.Contains(string(out), map[string]string{"PASS": "[PASSED]", "FAIL": "[FAILED]", "SKIP": "[SKIPPED]"}[status]+" "+name) {
			t.Errorf("kunit.py does not report %s as %s:\n%s", name, status, out)
		}
	}
}
