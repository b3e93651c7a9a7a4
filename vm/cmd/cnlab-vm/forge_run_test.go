//go:build faults

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestForgeJobRuns runs, on this host, what the workflow's kernel job runs
// for 6.1, with the environment the workflow sets (and the suites cut to
// the echo label, to keep it short), then what the merge job runs on its
// results: a green workflow on the forge should be no surprise.
func TestForgeJobRuns(t *testing.T) {
	src, _ := filepath.Abs("../../..")
	script, env := forgeJobScript(t, src, "6.1")
	t.Cleanup(func() {
		os.RemoveAll(filepath.Join(src, "results"))
		os.RemoveAll(filepath.Join(src, "merged"))
	})
	job := exec.Command("bash", "-eo", "pipefail", "-c", script)
	job.Dir = src
	job.Env = append(append(os.Environ(), env...), "CI=true", "GITHUB_ACTIONS=true", "CNLAB_VMFLAGS=-labels echo")
	out, err := job.CombinedOutput()
	if err != nil {
		t.Fatalf("the kernel job for 6.1: %v\n%s", err, out)
	}
	for _, f := range []string{"results.junit.xml", "results.ktap", "summary.json", "console.log"} {
		if m, _ := filepath.Glob(filepath.Join(src, "results/6.1/*", f)); len(m) != 1 {
			t.Errorf("the job left no %s to upload", f)
		}
	}

	summary := filepath.Join(t.TempDir(), "step-summary.md")
	var gh workflow
	readYAML(t, filepath.Join(src, ".github/workflows/matrix.yml"), &gh)
	for _, s := range gh.Jobs["merge"].Steps {
		if s.Run == "" || s.Name == "tools" {
			continue
		}
		merge := exec.Command("bash", "-eo", "pipefail", "-c", s.Run)
		merge.Dir = src
		merge.Env = append(os.Environ(), "GITHUB_STEP_SUMMARY="+summary)
		if out, err := merge.CombinedOutput(); err != nil {
			t.Fatalf("the merge job: %v\n%s", err, out)
		}
	}
	md, _ := os.ReadFile(summary)
	if !strings.Contains(string(md), "| 6.1 | 6.1.0-56-amd64 | passed |") {
		t.Errorf("the job summary lacks 6.1's row:\n%s", md)
	}
}
