package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// The JUnit XML that Jenkins, GitLab and most CI systems read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure"`
	Error     *junitMessage `xml:"error"`
	Skipped   *junitMessage `xml:"skipped"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes one kernel's suites as JUnit XML: a testsuite per
// suite, and one more, "kernel", whose single case errs when the run's
// verdict is not a pass.
func WriteJUnit(w io.Writer, kernel string, suites []Suite, v Verdict) error {
	out := junitSuites{Name: "cnlab on " + kernel}
	var total float64
	for _, s := range suites {
		c := s.Counts()
		js := junitSuite{Name: s.Name, Tests: len(s.Specs), Failures: c.Failed, Skipped: c.Skipped,
			Time: seconds(s.Duration.Seconds()), Properties: []junitProperty{{Name: "kernel", Value: kernel}}}
		for _, sp := range s.Specs {
			jc := junitCase{ClassName: s.Name, Name: sp.Name, Time: seconds(sp.Duration.Seconds())}
			switch sp.State {
			case Failed:
				msg := sp.Message
				if sp.Location != "" {
					msg += "\nat " + sp.Location
				}
				jc.Failure = &junitMessage{Message: firstLine(sp.Message), Type: "failure", Text: msg}
			case Skipped:
				jc.Skipped = &junitMessage{Message: firstLine(sp.Message)}
			}
			js.Cases = append(js.Cases, jc)
		}
		out.Suites = append(out.Suites, js)
		out.Tests += js.Tests
		out.Failures += js.Failures
		out.Skipped += js.Skipped
		total += s.Duration.Seconds()
	}
	k := junitSuite{Name: "kernel", Tests: 1, Time: "0", Properties: []junitProperty{{Name: "kernel", Value: kernel}},
		Cases: []junitCase{{ClassName: "kernel", Name: "the run's verdict: console, watchdogs, module", Time: "0"}}}
	if !v.Passed {
		k.Errors = 1
		k.Cases[0].Error = &junitMessage{Message: firstLine(v.Reason), Type: "kernel", Text: v.Reason}
	}
	out.Suites = append(out.Suites, k)
	out.Tests++
	out.Errors += k.Errors
	out.Time = seconds(total)
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

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
