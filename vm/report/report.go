package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// State is a spec's result.
type State string

// States.
const (
	Passed  State = "passed"
	Failed  State = "failed"
	Skipped State = "skipped"
)

// Spec is one spec's result.
type Spec struct {
	Suite    string
	Name     string
	Labels   []string
	State    State
	Duration time.Duration
	// Message says why a spec failed or skipped; Location where.
	Message  string
	Location string
}

// Suite is one suite's results.
type Suite struct {
	Name     string
	Specs    []Spec
	Duration time.Duration
	// Ginkgo is the suite's own report, when it came from Ginkgo.
	Ginkgo *types.Report
}

// Counts are the totals of a set of specs.
type Counts struct {
	Passed, Failed, Skipped int
}

// Counts totals the suite's specs.
func (s *Suite) Counts() Counts {
	var c Counts
	for _, sp := range s.Specs {
		switch sp.State {
		case Passed:
			c.Passed++
		case Failed:
			c.Failed++
		default:
			c.Skipped++
		}
	}
	return c
}

// Parse reads a Ginkgo JSON report (--json-report). Specs that the label
// filter or focus left out are not listed; specs that skipped themselves
// (Skip, with a reason) are.
func Parse(b []byte) ([]Suite, error) {
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		return nil, fmt.Errorf("parse ginkgo report: %w", err)
	}
	var out []Suite
	for _, r := range reports {
		s := Suite{Name: r.SuiteDescription, Duration: r.RunTime, Ginkgo: &r}
		for _, sr := range r.SpecReports {
			if sr.LeafNodeType != types.NodeTypeIt {
				if sr.State.Is(types.SpecStateFailureStates) {
					// A failed BeforeSuite or AfterSuite fails the suite.
					s.Specs = append(s.Specs, Spec{Suite: s.Name, Name: "[" + sr.LeafNodeType.String() + "]", State: Failed,
						Duration: sr.RunTime, Message: sr.Failure.Message, Location: sr.Failure.Location.String()})
				}
				continue
			}
			sp := Spec{Suite: s.Name, Name: sr.FullText(), Labels: sr.Labels(), Duration: sr.RunTime}
			switch {
			case sr.State == types.SpecStatePassed:
				sp.State = Passed
			case sr.State.Is(types.SpecStateFailureStates):
				sp.State = Failed
				sp.Message, sp.Location = sr.Failure.Message, sr.Failure.Location.String()
			case sr.State == types.SpecStateSkipped && sr.Failure.Message == "":
				continue // not selected by the label filter or focus: not run
			default:
				sp.State = Skipped
				sp.Message = sr.Failure.Message
				if sp.Message == "" {
					sp.Message = sr.State.String()
				}
			}
			s.Specs = append(s.Specs, sp)
		}
		out = append(out, s)
	}
	return out, nil
}

// Print writes one line per spec and a summary per suite.
func Print(w io.Writer, suites []Suite) {
	for _, s := range suites {
		fmt.Fprintf(w, "\n%s\n", s.Name)
		for _, sp := range s.Specs {
			mark := map[State]string{Passed: "PASS", Failed: "FAIL", Skipped: "SKIP"}[sp.State]
			fmt.Fprintf(w, "  %-4s %s (%s)\n", mark, sp.Name, sp.Duration.Round(time.Millisecond))
			if sp.State != Passed && sp.Message != "" {
				for _, line := range strings.Split(strings.TrimSpace(sp.Message), "\n") {
					fmt.Fprintf(w, "       %s\n", line)
				}
				if sp.Location != "" {
					fmt.Fprintf(w, "       at %s\n", sp.Location)
				}
			}
		}
		c := s.Counts()
		fmt.Fprintf(w, "%s: %d passed, %d failed, %d skipped in %s\n", s.Name, c.Passed, c.Failed, c.Skipped, s.Duration.Round(time.Millisecond))
	}
}
