package report

import (
	"fmt"
	"io"
	"strings"
)

// Verdict is a run's overall result, as the runner settled it.
type Verdict struct {
	Passed bool
	Reason string // why not
}

// ktapName makes a spec name safe for a KTAP result line, where " # "
// starts a directive.
func ktapName(s string) string {
	return strings.ReplaceAll(s, "#", "No.")
}

// WriteKTAP writes the suites of one kernel's run in KTAP version 1
// (Documentation/dev-tools/ktap.rst): one top-level test per suite with
// its specs as subtests, skipped specs marked SKIP with their reason,
// failure messages as diagnostic lines before the result, and a last
// top-level test, "kernel", for the run's verdict (the console's trouble, a
// watchdog, a module that did not load).
func WriteKTAP(w io.Writer, kernel string, suites []Suite, v Verdict) error {
	var b strings.Builder
	fmt.Fprintf(&b, "KTAP version 1\n# cnlab results on %s\n1..%d\n", kernel, len(suites)+1)
	for i, s := range suites {
		fmt.Fprintf(&b, "    KTAP version 1\n    # Subtest: %s\n    1..%d\n", ktapName(s.Name), len(s.Specs))
		for j, sp := range s.Specs {
			switch sp.State {
			case Passed:
				fmt.Fprintf(&b, "    ok %d %s\n", j+1, ktapName(sp.Name))
			case Skipped:
				fmt.Fprintf(&b, "    ok %d %s # SKIP %s\n", j+1, ktapName(sp.Name), oneLine(sp.Message))
			default:
				for _, line := range strings.Split(strings.TrimSpace(sp.Message), "\n") {
					fmt.Fprintf(&b, "    # %s\n", line)
				}
				if sp.Location != "" {
					fmt.Fprintf(&b, "    # at %s\n", sp.Location)
				}
				fmt.Fprintf(&b, "    not ok %d %s\n", j+1, ktapName(sp.Name))
			}
		}
		result := "ok"
		if s.Counts().Failed > 0 {
			result = "not ok"
		}
		fmt.Fprintf(&b, "%s %d %s\n", result, i+1, ktapName(s.Name))
	}
	if v.Passed {
		fmt.Fprintf(&b, "ok %d kernel\n", len(suites)+1)
	} else {
		fmt.Fprintf(&b, "# %s\nnot ok %d kernel\n", oneLine(v.Reason), len(suites)+1)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "#", "No.")), " ")
}
