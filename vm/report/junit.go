package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
)

// WriteJUnit writes one kernel's suites as JUnit XML, the cases from
// Ginkgo's own JUnit reporter where the suite has its report (which keeps
// the seed, the specs' output and an error, not a failure, for a panicked or
// interrupted spec), and one more testsuite, "kernel on <release>", whose
// single case errs when the run's verdict is not a pass. Suite names carry
// the kernel, so that the reports of a matrix merge.
func WriteJUnit(w io.Writer, kernel string, suites []Suite, v Verdict) error {
	var out reporters.JUnitTestSuites
	for _, s := range suites {
		var js reporters.JUnitTestSuite
		if s.Ginkgo != nil {
			var err error
			if js, err = ginkgoJUnit(*s.Ginkgo); err != nil {
				return err
			}
		} else {
			js = specsJUnit(s)
		}
		js.Name = s.Name
		if !strings.Contains(js.Name, kernel) {
			js.Name += " on " + kernel
		}
		for i := range js.TestCases {
			js.TestCases[i].Classname = js.Name
		}
		js.Properties.Properties = append([]reporters.JUnitProperty{{Name: "kernel", Value: kernel}}, js.Properties.Properties...)
		out.TestSuites = append(out.TestSuites, js)
	}
	name := "kernel on " + kernel
	k := reporters.JUnitTestSuite{Name: name, Tests: 1, Properties: reporters.JUnitProperties{Properties: []reporters.JUnitProperty{{Name: "kernel", Value: kernel}}},
		TestCases: []reporters.JUnitTestCase{{Name: "the run's verdict: console, watchdogs, module", Classname: name, Status: "passed"}}}
	if !v.Passed {
		k.Errors = 1
		k.TestCases[0].Status = "failed"
		k.TestCases[0].Error = &reporters.JUnitError{Message: firstLine(v.Reason), Type: "kernel", Description: v.Reason}
	}
	out.TestSuites = append(out.TestSuites, k)
	for _, s := range out.TestSuites {
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Disabled += s.Disabled + s.Skipped
		out.Time += s.Time
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// ginkgoJUnit runs Ginkgo's JUnit reporter on a suite's report, leaving out
// the specs that the label filter or focus did not select, as the rest of
// the results do.
func ginkgoJUnit(r types.Report) (reporters.JUnitTestSuite, error) {
	var selected types.SpecReports
	for _, sr := range r.SpecReports {
		if sr.State == types.SpecStateSkipped && sr.Failure.Message == "" {
			continue
		}
		selected = append(selected, sr)
	}
	r.SpecReports = selected
	f, err := os.CreateTemp("", "cnlab-junit-*.xml")
	if err != nil {
		return reporters.JUnitTestSuite{}, fmt.Errorf("junit: %w", err)
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	cfg := reporters.JunitReportConfig{OmitTimelinesForSpecState: types.SpecStatePassed | types.SpecStateSkipped}
	if err := reporters.GenerateJUnitReportWithConfig(r, path, cfg); err != nil {
		return reporters.JUnitTestSuite{}, fmt.Errorf("junit: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return reporters.JUnitTestSuite{}, fmt.Errorf("junit: %w", err)
	}
	var all reporters.JUnitTestSuites
	if err := xml.Unmarshal(b, &all); err != nil || len(all.TestSuites) != 1 {
		return reporters.JUnitTestSuite{}, fmt.Errorf("junit: Ginkgo's report: %v (%d suites)", err, len(all.TestSuites))
	}
	return all.TestSuites[0], nil
}

// specsJUnit is a suite's JUnit from its specs alone, for a suite that
// has no Ginkgo report.
func specsJUnit(s Suite) reporters.JUnitTestSuite {
	c := s.Counts()
	js := reporters.JUnitTestSuite{Tests: len(s.Specs), Failures: c.Failed, Skipped: c.Skipped, Time: s.Duration.Seconds()}
	for _, sp := range s.Specs {
		jc := reporters.JUnitTestCase{Name: sp.Name, Status: string(sp.State), Time: sp.Duration.Seconds()}
		switch sp.State {
		case Failed:
			msg := sp.Message
			if sp.Location != "" {
				msg += "\nat " + sp.Location
			}
			jc.Failure = &reporters.JUnitFailure{Message: firstLine(sp.Message), Type: "failed", Description: msg}
		case Skipped:
			jc.Skipped = &reporters.JUnitSkipped{Message: firstLine(sp.Message)}
		}
		js.TestCases = append(js.TestCases, jc)
	}
	return js
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
