package docs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestLinks checks every relative link of README.md and docs/*.md: its file
// must be in the tree and its #anchor a heading of that file.
func TestLinks(t *testing.T) {
	root := ".."
	files := []string{"README.md"}
	mds, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, md := range mds {
		rel, err := filepath.Rel(root, md)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, rel)
	}
	for _, f := range files {
		errs, err := checkFile(root, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			t.Errorf("dead link: %v", e)
		}
	}
}

func TestSlug(t *testing.T) {
	tests := []struct {
		name, heading, want string
	}{
		{"words", "Bug reports", "bug-reports"},
		{"apostrophe and colon", "Mutants of the kernel's connector: make kernel-mutants", "mutants-of-the-kernels-connector-make-kernel-mutants"},
		{"commas", "Kernels built from source: debug kernels, coverage, the newest kernels", "kernels-built-from-source-debug-kernels-coverage-the-newest-kernels"},
		{"parentheses", "Process events (cn_proc)", "process-events-cn_proc"},
		{"code span", "The `{-1, -1}` notification", "the--1--1-notification"},
		{"link", "See [the module](module.md)", "see-the-module"},
		{"digits and dots", "Kernel 6.12-rt", "kernel-612-rt"},
		{"hyphen kept, not collapsed", "a - b", "a---b"},
		{"non-ASCII letter", "Ünload", "ünload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slug(tt.heading); got != tt.want {
				t.Errorf("slug(%q) = %q, want %q", tt.heading, got, tt.want)
			}
		})
	}
}

func TestParseLinks(t *testing.T) {
	tests := []struct {
		name, md string
		want     []link
	}{
		{"file", "see [kernels](docs/kernels.md).", []link{{line: 1, text: "kernels", path: "docs/kernels.md"}}},
		{"file and anchor", "[x](docs/runner.md#exit-codes)", []link{{line: 1, text: "x", path: "docs/runner.md", anchor: "exit-codes"}}},
		{"anchor only", "[up](#set-up)", []link{{line: 1, text: "up", anchor: "set-up"}}},
		{"title", `[x](a.md "A")`, []link{{line: 1, text: "x", path: "a.md"}}},
		{"angle brackets", "[x](<a.md>)", []link{{line: 1, text: "x", path: "a.md"}}},
		{"two on a line, second line", "\n[a](a.md) and [b](b.md#c)", []link{{line: 2, text: "a", path: "a.md"}, {line: 2, text: "b", path: "b.md", anchor: "c"}}},
		{"image", "![diagram](docs/d.png)", []link{{line: 1, text: "diagram", path: "docs/d.png"}}},
		{"URL skipped", "[gh](https://github.com/x) [m](mailto:a@b) [p](//host/x)", nil},
		{"code span skipped", "`[a](nowhere.md)` but [b](b.md)", []link{{line: 1, text: "b", path: "b.md"}}},
		{"fenced code skipped", "```sh\n[a](nowhere.md)\n```\n[b](b.md)", []link{{line: 4, text: "b", path: "b.md"}}},
		{"tilde fence skipped", "~~~\n[a](nowhere.md)\n~~~", nil},
		{"not a link", "a [bracket] and (parenthesis)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseLinks(tt.md); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseLinks(%q) = %+v, want %+v", tt.md, got, tt.want)
			}
		})
	}
}

func TestAnchors(t *testing.T) {
	md := "# Title\n## Exit codes\ntext\n### Exit codes\n```\n# not a heading\n```\n#not a heading either\n## Closed ##\n"
	want := map[string]bool{"title": true, "exit-codes": true, "exit-codes-1": true, "closed": true}
	if got := anchors(md); !reflect.DeepEqual(got, want) {
		t.Errorf("anchors = %v, want %v", got, want)
	}
}

func TestCheckFile(t *testing.T) {
	root := t.TempDir()
	write := func(path, s string) {
		t.Helper()
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs/a.md", "# A\n## Exit codes\n")
	write("kmod/cnlab.c", "")
	tests := []struct {
		name, md string
		want     string // a fragment of the one error, "" for none
	}{
		{"file", "[a](docs/a.md)", ""},
		{"file and anchor", "[a](docs/a.md#exit-codes)", ""},
		{"own anchor", "# Top\n[t](#top)", ""},
		{"directory", "[k](kmod/)", ""},
		{"source file", "[c](kmod/cnlab.c)", ""},
		{"missing file", "[x](docs/gone.md)", "docs/gone.md does not exist"},
		{"missing anchor", "[x](docs/a.md#exit-code)", "no heading of docs/a.md has the anchor #exit-code"},
		{"missing own anchor", "[t](#nowhere)", "no heading of README.md has the anchor #nowhere"},
		{"anchor into a non-markdown file", "[c](kmod/cnlab.c#L1)", "kmod/cnlab.c is not a markdown file"},
		{"outside the tree", "[x](../etc/passwd)", "is outside the tree"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write("README.md", tt.md)
			errs, err := checkFile(root, "README.md")
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == "" && len(errs) > 0:
				t.Errorf("errors %v, want none", errs)
			case tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want)):
				t.Errorf("errors %v, want one with %q", errs, tt.want)
			}
		})
	}
}
