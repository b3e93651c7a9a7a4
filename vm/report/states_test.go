package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// parseOne parses a report of one suite with the given spec reports.
func parseOne(t *testing.T, srs ...types.SpecReport) Suite {
	t.Helper()
	b, err := json.Marshal([]types.Report{{SuiteDescription: "s", RunTime: time.Second, SpecReports: srs}})
	if err != nil {
		t.Fatal(err)
	}
	suites, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(suites) != 1 {
		t.Fatalf("%d suites, want 1", len(suites))
	}
	return suites[0]
}

// Every state in which Ginkgo says a spec did not pass must be written as a
// failure, in the summary, in KTAP and in JUnit: never as a pass or a skip.
func TestEveryFailureStateFails(t *testing.T) {
	states := []types.SpecState{
		types.SpecStateFailed,
		types.SpecStatePanicked,
		types.SpecStateTimedout,
		types.SpecStateInterrupted,
		types.SpecStateAborted,
	}
	for _, st := range states {
		t.Run(st.String(), func(t *testing.T) {
			if !st.Is(types.SpecStateFailureStates) {
				t.Fatalf("Ginkgo no longer counts %s as a failure state", st)
			}
			loc := types.CodeLocation{FileName: "e2e/x_test.go", LineNumber: 7}
			it := spec("the spec", st, "went "+st.String())
			it.Failure.Location = loc
			s := parseOne(t, it)
			if len(s.Specs) != 1 {
				t.Fatalf("specs %+v, want 1", s.Specs)
			}
			sp := s.Specs[0]
			if sp.State != Failed || sp.Message != "went "+st.String() || sp.Location != loc.String() {
				t.Errorf("parsed %+v, want failed with its message and location", sp)
			}
			if c := s.Counts(); c != (Counts{Failed: 1}) {
				t.Errorf("counts %+v, want one failure", c)
			}

			var k bytes.Buffer
			if err := WriteKTAP(&k, "6.1", []Suite{s}, Verdict{Passed: true}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(k.String(), "    not ok 1 the spec\n") || !strings.Contains(k.String(), "\nnot ok 1 s\n") {
				t.Errorf("KTAP does not fail the spec and its suite:\n%s", k.String())
			}
			if strings.Contains(k.String(), "SKIP") {
				t.Errorf("KTAP skips a %s spec:\n%s", st, k.String())
			}

			var j bytes.Buffer
			if err := WriteJUnit(&j, "6.1", []Suite{s}, Verdict{Passed: true}); err != nil {
				t.Fatal(err)
			}
			// A failure or an error (as Ginkgo's own reporter writes a
			// panicked or interrupted spec), never a pass or a skip.
			var js struct {
				Failures int `xml:"failures,attr"`
				Errors   int `xml:"errors,attr"`
				Skipped  int `xml:"skipped,attr"`
				Suites   []struct {
					Cases []struct {
						Name    string    `xml:"name,attr"`
						Failure *struct{} `xml:"failure"`
						Error   *struct{} `xml:"error"`
						Skipped *struct{} `xml:"skipped"`
					} `xml:"testcase"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal(j.Bytes(), &js); err != nil {
				t.Fatal(err)
			}
			if js.Failures+js.Errors != 1 || js.Skipped != 0 || len(js.Suites) == 0 || len(js.Suites[0].Cases) != 1 {
				t.Fatalf("JUnit counts %d failures, %d errors, %d skipped, want one failure or error:\n%s", js.Failures, js.Errors, js.Skipped, j.String())
			}
			if c := js.Suites[0].Cases[0]; (c.Failure == nil && c.Error == nil) || c.Skipped != nil || !strings.Contains(j.String(), "went "+st.String()) {
				t.Errorf("JUnit case %+v, want a failure or an error with the message:\n%s", c, j.String())
			}

			// The same state on a suite node fails the suite.
			node := types.SpecReport{LeafNodeType: types.NodeTypeAfterSuite, State: st, Failure: types.Failure{Message: "cleanup " + st.String(), Location: loc}}
			s = parseOne(t, node)
			if len(s.Specs) != 1 || s.Specs[0].Name != "[AfterSuite]" || s.Specs[0].State != Failed ||
				s.Specs[0].Message != "cleanup "+st.String() || s.Specs[0].Location != loc.String() {
				t.Errorf("a %s AfterSuite parsed as %+v, want a failure", st, s.Specs)
			}
		})
	}
}

// The states that are not failures: what they become.
func TestOtherStates(t *testing.T) {
	s := parseOne(t,
		spec("passes", types.SpecStatePassed, ""),
		spec("pending", types.SpecStatePending, ""),
		spec("skips itself", types.SpecStateSkipped, "no BTF"),
		spec("not selected", types.SpecStateSkipped, ""),
		types.SpecReport{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed},
		types.SpecReport{LeafNodeType: types.NodeTypeAfterSuite, State: types.SpecStateSkipped, Failure: types.Failure{Message: "x"}},
	)
	want := []Spec{
		{Suite: "s", Name: "passes", State: Passed, Duration: time.Millisecond},
		{Suite: "s", Name: "pending", State: Skipped, Duration: time.Millisecond, Message: "pending"},
		{Suite: "s", Name: "skips itself", State: Skipped, Duration: time.Millisecond, Message: "no BTF"},
	}
	if len(s.Specs) != len(want) {
		t.Fatalf("specs %+v, want %+v", s.Specs, want)
	}
	for i := range want {
		got := s.Specs[i]
		got.Labels = nil
		if got.Name != want[i].Name || got.State != want[i].State || got.Message != want[i].Message ||
			got.Duration != want[i].Duration || got.Suite != want[i].Suite || got.Location != "" {
			t.Errorf("spec %d = %+v, want %+v", i, got, want[i])
		}
	}
	if s.Name != "s" || s.Duration != time.Second {
		t.Errorf("suite %q %s, want s 1s", s.Name, s.Duration)
	}
}

// A failure's location is kept, labels pass through, and the printout marks
// each state and says where a failure was.
func TestPrint(t *testing.T) {
	it := spec("fails", types.SpecStateFailed, "line one\nline two")
	it.Failure.Location = types.CodeLocation{FileName: "e2e/x_test.go", LineNumber: 9}
	it.ContainerHierarchyLabels = [][]string{{"echo"}}
	s := parseOne(t,
		spec("passes", types.SpecStatePassed, "ignored"),
		it,
		spec("skips", types.SpecStateSkipped, "why"),
	)
	if got := s.Specs[1].Labels; len(got) != 1 || got[0] != "echo" {
		t.Errorf("labels %v, want [echo]", got)
	}
	var b bytes.Buffer
	Print(&b, []Suite{s})
	want := "\ns\n" +
		"  PASS passes (1ms)\n" +
		"  FAIL fails (1ms)\n" +
		"       line one\n" +
		"       line two\n" +
		"       at e2e/x_test.go:9\n" +
		"  SKIP skips (1ms)\n" +
		"       why\n" +
		"s: 1 passed, 1 failed, 1 skipped in 1s\n"
	if b.String() != want {
		t.Errorf("Print wrote\n%q\nwant\n%q", b.String(), want)
	}
}

// The KTAP, line for line: the plan counts the suites and the verdict, a
// suite passes only when none of its specs failed, a failure without a
// location has no "at" line, and the verdict's reason is one line.
func TestKTAPExact(t *testing.T) {
	suites := []Suite{
		{Name: "all pass", Specs: []Spec{{Name: "a", State: Passed}, {Name: "b # 2", State: Skipped, Message: "why\nnot"}}},
		{Name: "one fails", Specs: []Spec{{Name: "c", State: Failed, Message: "went\nwrong"}}},
	}
	var b bytes.Buffer
	if err := WriteKTAP(&b, "6.1", suites, Verdict{Reason: "Oops # at\nboot"}); err != nil {
		t.Fatal(err)
	}
	want := `KTAP version 1
# cnlab results on 6.1
1..3
    KTAP version 1
    # Subtest: all pass
    1..2
    ok 1 a
    ok 2 b No. 2 # SKIP why not
ok 1 all pass
    KTAP version 1
    # Subtest: one fails
    1..1
    # went
    # wrong
    not ok 1 c
not ok 2 one fails
# Oops No. at boot
not ok 3 kernel
`
	if b.String() != want {
		t.Errorf("KTAP\n%s\nwant\n%s", b.String(), want)
	}
}

// JUnit's message attribute is the first line of a message.
func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{"one": "one", "\n one\ntwo": "one", "a\nb\nc": "a", "": ""} {
		if got := firstLine(in); got != want {
			t.Errorf("firstLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// Through Ginkgo's own JUnit reporter too, a spec the filters did not select
// is left out, and one that skipped itself stays, skipped.
func TestJUnitLeavesOutUnselected(t *testing.T) {
	s := parseOne(t,
		spec("passes", types.SpecStatePassed, ""),
		spec("skips itself", types.SpecStateSkipped, "no BTF"),
		spec("not selected", types.SpecStateSkipped, ""),
	)
	var j bytes.Buffer
	if err := WriteJUnit(&j, "6.1", []Suite{s}, Verdict{Passed: true}); err != nil {
		t.Fatal(err)
	}
	var js struct {
		Suites []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(j.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if len(js.Suites) == 0 {
		t.Fatalf("no suites:\n%s", j.String())
	}
	var names []string
	skipped := 0
	for _, c := range js.Suites[0].Cases {
		names = append(names, c.Name)
		if c.Skipped != nil {
			skipped++
		}
	}
	if len(names) != 2 || skipped != 1 || strings.Contains(j.String(), "not selected") {
		t.Errorf("cases %q, %d skipped; want passes and skips itself, one skipped:\n%s", names, skipped, j.String())
	}
}
