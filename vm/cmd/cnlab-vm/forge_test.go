package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// workflow is the part of a GitHub Actions workflow the tests read.
type workflow struct {
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []struct {
			Name string `yaml:"name"`
			Uses string `yaml:"uses"`
			Run  string `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s is not YAML: %v", path, err)
	}
}

// matrixNames are the kernels' names, as the forges' matrices get them.
func matrixNames(t *testing.T, src string) []string {
	t.Helper()
	cmd := exec.Command("go", "run", ".", "-src", src, "-list-kernels", "-json")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("-list-kernels -json: %v", err)
	}
	var ks []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(out, &ks); err != nil {
		t.Fatalf("-list-kernels -json is not a JSON array: %v\n%s", err, out)
	}
	var names []string
	for _, k := range ks {
		names = append(names, k.Name)
	}
	return names
}

// TestForgeFiles checks the two forges' files against the kernel list and
// against what the host test of a job runs: the GitHub workflow lists the
// kernels with -list-kernels and runs scripts/ci-kernel.sh per kernel; the
// GitLab file names the same kernels in its parallel:matrix.
func TestForgeFiles(t *testing.T) {
	src, _ := filepath.Abs("../../..")
	names := matrixNames(t, src)
	if len(names) == 0 {
		t.Fatal("no kernels listed")
	}

	var gh workflow
	readYAML(t, filepath.Join(src, ".github/workflows/matrix.yml"), &gh)
	runs := func(job string) string {
		var all []string
		for _, s := range gh.Jobs[job].Steps {
			all = append(all, s.Run)
		}
		return strings.Join(all, "\n")
	}
	for job, want := range map[string]string{
		"kernels": "go run ./vm/cmd/cnlab-vm -list-kernels -json",
		"kernel":  `scripts/ci-kernel.sh "${{ matrix.kernel.name }}"`,
		"merge":   "go run ./vm/cmd/cnlab-vm -merge -out merged results",
	} {
		if !strings.Contains(runs(job), want) {
			t.Errorf("the workflow's job %s does not run %q", job, want)
		}
	}

	var gl struct {
		Kernel struct {
			Parallel struct {
				Matrix []map[string][]string `yaml:"matrix"`
			} `yaml:"parallel"`
			Script []string `yaml:"script"`
		} `yaml:"kernel"`
	}
	readYAML(t, filepath.Join(src, ".gitlab-ci.yml"), &gl)
	if len(gl.Kernel.Parallel.Matrix) != 1 {
		t.Fatalf("the GitLab file's kernel job has no parallel:matrix")
	}
	got := gl.Kernel.Parallel.Matrix[0]["KERNEL"]
	if !slices.Equal(got, names) {
		t.Errorf("the GitLab matrix runs %q, kernels/kernels.conf lists %q: update .gitlab-ci.yml", got, names)
	}
	if !slices.Contains(gl.Kernel.Script, `scripts/ci-kernel.sh "$KERNEL"`) {
		t.Errorf("the GitLab kernel job does not run scripts/ci-kernel.sh: %q", gl.Kernel.Script)
	}
}

// forgeJobScript is the kernel job's own commands, with the matrix's
// values and the job's environment as the workflow sets them.
func forgeJobScript(t *testing.T, src, kernel string) (script string, env []string) {
	t.Helper()
	var gh workflow
	readYAML(t, filepath.Join(src, ".github/workflows/matrix.yml"), &gh)
	job := gh.Jobs["kernel"]
	subst := strings.NewReplacer("${{ matrix.kernel.name }}", kernel)
	for k, v := range job.Env {
		env = append(env, k+"="+subst.Replace(v))
	}
	var lines []string
	for _, s := range job.Steps {
		if s.Run != "" && s.Name != "tools" { // tools: apt-get, which make setup does here
			lines = append(lines, subst.Replace(s.Run))
		}
	}
	return strings.Join(lines, "\n"), env
}

// TestForgeJobScript checks that the kernel job's commands are what a host
// run of them needs: nothing of the workflow's syntax left after the matrix
// values are put in.
func TestForgeJobScript(t *testing.T) {
	src, _ := filepath.Abs("../../..")
	script, env := forgeJobScript(t, src, "6.1")
	if strings.Contains(script, "${{") || strings.Contains(strings.Join(env, " "), "${{") {
		t.Errorf("the job's commands keep workflow expressions a host cannot run:\n%s\n%v", script, env)
	}
	if !strings.Contains(script, `scripts/ci-kernel.sh "6.1"`) || !slices.Contains(env, "CNLAB_OUT=results/6.1") {
		t.Errorf("the job's commands for 6.1: %q, env %q", script, env)
	}
	var out bytes.Buffer
	cmd := exec.Command("bash", "-n", "-c", script)
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Errorf("the job's commands are not valid bash: %v\n%s", err, out.String())
	}
}
