package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func sample() []Suite {
	return []Suite{{
		Name:     "cnlab e2e on 6.1.0-56-amd64",
		Duration: 2 * time.Second,
		Specs: []Spec{
			{Name: "The echo callback replies once", State: Passed, Duration: time.Millisecond},
			{Name: "Message genealogy takes seq #1 as the reply", State: Failed, Message: "Expected\n  <int>: 1\nto equal\n  <int>: 2", Location: "e2e/x_test.go:9"},
			{Name: "The probes' account", State: Skipped, Message: "the kernel has no BTF # really"},
		},
	}}
}

// kunitTool is the kernel's own KTAP parser, unpacked by make setup.
func kunitTool(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "../../.cache/linux-source-6.1/tools/testing/kunit/kunit.py")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the kernel's KTAP parser: %v (make setup unpacks it from linux-source-6.1)", err)
	}
	return p
}

// TestKTAPParsesWithKunit checks the KTAP against the kernel's own parser,
// tools/testing/kunit/kunit.py: every spec, with its status, and the
// verdict.
func TestKTAPParsesWithKunit(t *testing.T) {
	tool := kunitTool(t)
	tests := []struct {
		name    string
		verdict Verdict
		want    map[string]string
	}{
		{"passed run", Verdict{Passed: true}, map[string]string{"kernel": "PASS"}},
		{"kernel failure", Verdict{Reason: "the kernel logged a BUG: # oops"}, map[string]string{"kernel": "FAIL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteKTAP(&b, "6.1.0-56-amd64", sample(), tt.verdict); err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(t.TempDir(), "results.ktap")
			if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			jsonOut := filepath.Join(t.TempDir(), "parsed.json")
			cmd := exec.Command("python3", tool, "parse", "--json="+jsonOut, in)
			out, _ := cmd.CombinedOutput() // exits 1 when a test failed
			raw, err := os.ReadFile(jsonOut)
			if err != nil {
				t.Fatalf("kunit.py parse wrote no JSON: %v\n%s", err, out)
			}
			if bytes.Contains(out, []byte("[ERROR]")) || bytes.Contains(out, []byte("could not find any KTAP output")) {
				t.Fatalf("kunit.py found errors in the KTAP:\n%s\n--- KTAP:\n%s", out, b.String())
			}
			var parsed struct {
				SubGroups []struct {
					Name      string `json:"name"`
					TestCases []struct {
						Name   string `json:"name"`
						Status string `json:"status"`
					} `json:"test_cases"`
				} `json:"sub_groups"`
				TestCases []struct {
					Name   string `json:"name"`
					Status string `json:"status"`
				} `json:"test_cases"`
			}
			if err := json.Unmarshal(raw, &parsed); err != nil {
				t.Fatalf("kunit.py's JSON: %v", err)
			}
			got := map[string]string{}
			for _, g := range parsed.SubGroups {
				for _, c := range g.TestCases {
					got[c.Name] = c.Status
				}
			}
			for _, c := range parsed.TestCases {
				got[c.Name] = c.Status
			}
			want := map[string]string{
				"The echo callback replies once":                "PASS",
				"Message genealogy takes seq No.1 as the reply": "FAIL",
				"The probes' account":                           "SKIP",
			}
			for k, v := range tt.want {
				want[k] = v
			}
			for name, status := range want {
				if got[name] != status {
					t.Errorf("kunit.py: %q is %q, want %q (parsed: %v)\n%s", name, got[name], status, got, b.String())
				}
			}
		})
	}
}

// TestJUnit checks the JUnit XML the way its consumers read it: well formed,
// with the counts on the suites and a failure, skip or error on the cases.
func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, "6.1.0-56-amd64", sample(), Verdict{Reason: "run watchdog: step e2e did not finish"}); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
	}
	if got.Tests != 4 || got.Failures != 1 || got.Disabled != 1 || got.Errors != 1 || len(got.Suites) != 2 {
		t.Fatalf("totals: %+v", got)
	}
	s := got.Suites[0]
	if s.Tests != 3 || s.Failures != 1 || s.Skipped != 1 || s.Properties[0].Value != "6.1.0-56-amd64" {
		t.Fatalf("suite: %+v", s)
	}
	if c := s.Cases[1]; c.Failure == nil || c.Failure.Message != "Expected" || !strings.Contains(c.Failure.Text, "e2e/x_test.go:9") {
		t.Fatalf("failed case: %+v", c)
	}
	if c := s.Cases[2]; c.Skipped == nil || c.Failure != nil {
		t.Fatalf("skipped case: %+v", c)
	}
	if k := got.Suites[1]; k.Errors != 1 || k.Cases[0].Error == nil {
		t.Fatalf("kernel suite: %+v", k)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("<?xml")) {
		t.Fatal("no XML declaration")
	}
}
