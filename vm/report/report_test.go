package report

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func spec(text string, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{
		LeafNodeType: types.NodeTypeIt,
		LeafNodeText: text,
		State:        state,
		RunTime:      time.Millisecond,
		Failure:      types.Failure{Message: msg},
	}
}

func TestParse(t *testing.T) {
	in := []types.Report{{
		SuiteDescription: "cnlab e2e on 6.1.0-56-amd64",
		SpecReports: types.SpecReports{
			spec("passes", types.SpecStatePassed, ""),
			spec("fails", types.SpecStateFailed, "expected 1 to equal 2"),
			spec("skips itself", types.SpecStateSkipped, "needs CONFIG_KPROBES"),
			spec("not selected", types.SpecStateSkipped, ""),
			{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStateFailed, Failure: types.Failure{Message: "module not loaded"}},
		},
	}}
	b, err := json.Marshal(in)
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
	want := []struct {
		name  string
		state State
		msg   string
	}{
		{"passes", Passed, ""},
		{"fails", Failed, "expected 1 to equal 2"},
		{"skips itself", Skipped, "needs CONFIG_KPROBES"},
		{"[BeforeSuite]", Failed, "module not loaded"},
	}
	got := suites[0].Specs
	if len(got) != len(want) {
		t.Fatalf("specs %+v, want %d", got, len(want))
	}
	for i, w := range want {
		if got[i].Name != w.name || got[i].State != w.state || got[i].Message != w.msg {
			t.Errorf("spec %d = %q %s %q, want %q %s %q", i, got[i].Name, got[i].State, got[i].Message, w.name, w.state, w.msg)
		}
	}
	if c := suites[0].Counts(); c != (Counts{Passed: 1, Failed: 2, Skipped: 1}) {
		t.Errorf("counts %+v", c)
	}
	if _, err := Parse([]byte("not json")); err == nil {
		t.Error("Parse of garbage: no error")
	}
}
