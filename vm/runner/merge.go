package runner

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
)

// Merged is what Merge wrote, and the exit code of the whole matrix.
type Merged struct {
	Kernels  []Summary
	ExitCode int
}

// Merge reads the results of kernels run apart (each a directory with a
// summary.json, results.junit.xml and results.ktap, as one job of a forge's
// matrix uploads them; dirs are searched recursively) and writes into out
// one JUnit file (results.junit.xml), one KTAP file (results.ktap, a
// subtest per kernel) and the kernel x verdict table as Markdown
// (summary.md, for a job summary). Kernels listed as may-fail in mayFail
// are shown but fail nothing. The exit code is the worst of the others'.
func Merge(out string, dirs []string, mayFail map[string]bool) (*Merged, error) {
	var found []string
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && e.Name() == "summary.json" {
				found = append(found, filepath.Dir(p))
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("merge: no summary.json under %s: nothing to merge (did the kernels' jobs upload their results?)", strings.Join(dirs, ", "))
	}
	sort.Strings(found)
	m := &Merged{}
	var junit reporters.JUnitTestSuites
	var ktap strings.Builder
	var body strings.Builder
	for i, dir := range found {
		var s Summary
		b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		if err == nil {
			err = json.Unmarshal(b, &s)
		}
		if err != nil {
			return nil, fmt.Errorf("merge: %s: %w", dir, err)
		}
		m.Kernels = append(m.Kernels, s)
		if !mayFail[s.Name] {
			m.ExitCode = Worse(m.ExitCode, s.ExitCode)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "results.junit.xml")); err == nil {
			var j reporters.JUnitTestSuites
			if err := xml.Unmarshal(b, &j); err != nil {
				return nil, fmt.Errorf("merge: %s/results.junit.xml: %w", dir, err)
			}
			junit.TestSuites = append(junit.TestSuites, j.TestSuites...)
			junit.Tests += j.Tests
			junit.Failures += j.Failures
			junit.Errors += j.Errors
			junit.Disabled += j.Disabled
			junit.Time += j.Time
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("merge: %w", err)
		}
		ok := "ok"
		if s.ExitCode != ExitPassed {
			ok = "not ok"
		}
		if b, err := os.ReadFile(filepath.Join(dir, "results.ktap")); err == nil {
			// The kernel's KTAP becomes a subtest: indented, named.
			for j, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
				body.WriteString("    " + line + "\n")
				if j == 0 && strings.HasPrefix(line, "KTAP version") {
					body.WriteString("    # Subtest: " + s.Name + "\n")
				}
			}
		}
		directive := ""
		if mayFail[s.Name] && s.ExitCode != ExitPassed {
			directive = " # SKIP may fail: " + s.Verdict
		}
		fmt.Fprintf(&body, "%s %d %s%s\n", ok, i+1, s.Name, directive)
	}
	fmt.Fprintf(&ktap, "KTAP version 1\n1..%d\n%s", len(found), body.String())

	var md strings.Builder
	md.WriteString("| kernel | release | verdict | passed | failed | skipped | exit | why |\n| --- | --- | --- | ---: | ---: | ---: | ---: | --- |\n")
	for _, s := range m.Kernels {
		name := s.Name
		if mayFail[s.Name] {
			name += " (may fail)"
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %d | %d | %d | %d | %s |\n", name, s.Release, s.Verdict, s.Passed, s.Failed, s.Skipped, s.ExitCode, strings.ReplaceAll(firstLineOf(s.Reason), "|", `\|`))
	}
	fmt.Fprintf(&md, "\nmatrix exit code %d\n", m.ExitCode)

	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	x, err := xml.MarshalIndent(junit, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	for name, data := range map[string][]byte{
		"results.junit.xml": append([]byte(xml.Header), append(x, '\n')...),
		"results.ktap":      []byte(ktap.String()),
		"summary.md":        []byte(md.String()),
	} {
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
	}
	return m, nil
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
