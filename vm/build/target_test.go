package build

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFirstError(t *testing.T) {
	tests := []struct{ name, log, want string }{
		{"the compiler's first error, not a warning before it",
			"  CC [M]  /b/m.c\n/b/m.c:3:1: warning: no previous prototype for 'f' [-Wmissing-prototypes]\n/b/m.c:9:9: error: expected ';' before '}' token\n/b/m.c:12:1: error: second\nmake[2]: *** [scripts/Makefile.build:250: /b/m.o] Error 1\n",
			"/b/m.c:9:9: error: expected ';' before '}' token"},
		{"a missing header",
			"/b/m.c:2:10: fatal error: linux/nothere.h: No such file or directory\ncompilation terminated.\nmake[2]: *** Error 1\n",
			"/b/m.c:2:10: fatal error: linux/nothere.h: No such file or directory"},
		{"modpost: a symbol the kernel does not export",
			"  MODPOST /b/Module.symvers\nERROR: modpost: \"cn_nothing\" [/b/m.ko] undefined!\nmake[2]: *** [scripts/Makefile.modpost:126: /b/Module.symvers] Error 1\n",
			`ERROR: modpost: "cn_nothing" [/b/m.ko] undefined!`},
		{"make's own, when nothing compiled",
			"make: Entering directory '/k'\nmake[1]: *** No rule to make target 'modules'.  Stop.\nmake: *** [Makefile:5: all] Error 2\n",
			"make[1]: *** No rule to make target 'modules'.  Stop."},
		{"nothing recognisable: the last line", "something\nwent wrong\n", "went wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FirstError(tt.log); got != tt.want {
				t.Errorf("FirstError = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAuthorPaths(t *testing.T) {
	out := t.TempDir() // the copy the module was built in
	for _, f := range []string{"cn_buggy.c", "sub/h.h"} {
		p := filepath.Join(out, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const dir = "/home/me/mod" // the author's
	tests := []struct{ name, first, want string }{
		{"an absolute path into the copy, as kernels before 6.13 write it",
			out + "/cn_buggy.c:40:2: error: expected ';'", dir + "/cn_buggy.c:40:2: error: expected ';'"},
		{"a file name relative to the module's directory, as 6.13 and later write it",
			"cn_buggy.c:40:2: error: expected ';'", dir + "/cn_buggy.c:40:2: error: expected ';'"},
		{"relative, in a subdirectory", "sub/h.h:3:1: error: unknown type name 'u99'", dir + "/sub/h.h:3:1: error: unknown type name 'u99'"},
		{"relative, with ./", "./cn_buggy.c:40:2: error: x", dir + "/cn_buggy.c:40:2: error: x"},
		{"a file the copy does not hold: the kernel's, left alone",
			"include/linux/nothere.h:1:1: error: x", "include/linux/nothere.h:1:1: error: x"},
		{"modpost's, left alone", `ERROR: modpost: "cn_nothing" [cn_buggy.ko] undefined!`, `ERROR: modpost: "cn_nothing" [cn_buggy.ko] undefined!`},
		{"make's, left alone", "make[1]: *** No rule to make target 'modules'.  Stop.", "make[1]: *** No rule to make target 'modules'.  Stop."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := authorPaths(tt.first, out, dir); got != tt.want {
				t.Errorf("authorPaths(%q)\n= %q\nwant %q", tt.first, got, tt.want)
			}
		})
	}
}

func TestWriteKbuildSources(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		want    map[string]string // file -> content (Kbuild's whole text)
		wantErr string
	}{
		{"one file takes the module's name", []string{"samples/connector/cn_test.c"},
			map[string]string{"Kbuild": "obj-m += cnt.o\n", "cnt.c": "samples/connector/cn_test.c"}, ""},
		{"several files are the module's objects", []string{"a/one.c", "a/two.c", "a/two.h"},
			map[string]string{"Kbuild": "obj-m += cnt.o\ncnt-y := one.o two.o\n", "one.c": "a/one.c", "two.c": "a/two.c", "two.h": "a/two.h"}, ""},
		{"one named as the module among several", []string{"a/cnt.c", "a/two.c"}, nil, "a/cnt.c: a module of several files cannot have one named as the module"},
		{"two files of one name", []string{"a/x.c", "b/x.c"}, nil, "have the same name"},
		{"headers only", []string{"a/x.h"}, nil, "no .c file to build"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := TargetModule{Name: "cnt", Files: map[string][]byte{}}
			for _, f := range tt.files {
				m.Files[f] = []byte(f)
			}
			dir := t.TempDir()
			err := writeKbuildSources(m, dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || string(b) != want {
					t.Errorf("%s = %q, %v; want %q", name, b, err, want)
				}
			}
		})
	}
}

func TestCopySources(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for _, f := range []string{"Kbuild", "m.c", "sub/h.h", ".git/config", ".m.o.cmd", "m.o", "m.ko", "m.mod.c", "Module.symvers", "modules.order"} {
		p := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := copySources(src, dst); err != nil {
		t.Fatal(err)
	}
	var got []string
	_ = filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			got = append(got, rel)
		}
		return nil
	})
	slices.Sort(got)
	if want := []string{"Kbuild", "m.c", "sub/h.h"}; !slices.Equal(got, want) {
		t.Errorf("copied %v, want the sources only: %v", got, want)
	}
}

// hostKDIR is a kernel build tree of Debian's headers, when installed
// (make setup installs it).
const hostKDIR = "/lib/modules/6.1.0-56-amd64/build"

// TestBuildTarget builds small modules against the host's kernel headers,
// with Kbuild for real: one that builds, one the compiler refuses and one
// whose target names another module.
func TestBuildTarget(t *testing.T) {
	if _, err := os.Stat(filepath.Join(hostKDIR, "Module.symvers")); err != nil {
		t.Skipf("no kernel build tree at %s (make setup installs it)", hostKDIR)
	}
	good := "// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\nstatic int __init m_init(void)\n{\n\treturn 0;\n}\nmodule_init(m_init);\nMODULE_LICENSE(\"GPL\");\n"
	bad := strings.Replace(good, "return 0;", "return 0", 1)
	tests := []struct {
		name, module, source string
		wantFirst            string // the ModuleError's first line, with the author's directory as SRC
	}{
		{"builds", "tmod", good, ""},
		{"the compiler refuses it", "tmod", bad, "SRC/tmod.c:5:17: error: expected ';' before '}' token"},
		{"another module's name", "other", good, "the build made no other.ko (it made tmod.ko): the target's module line must name the module as its Kbuild's obj-m does"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(os.WriteFile(filepath.Join(src, "Kbuild"), []byte("obj-m += tmod.o\n"), 0o644))
			must(os.WriteFile(filepath.Join(src, "tmod.c"), []byte(tt.source), 0o644))
			out := filepath.Join(t.TempDir(), "target")
			ko, err := BuildTarget(context.Background(), TargetModule{Name: tt.module, Dir: src}, hostKDIR, out)
			if tt.wantFirst == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(ko); err != nil {
					t.Fatalf("no module at %s: %v", ko, err)
				}
				if _, err := os.Stat(filepath.Join(src, "tmod.o")); err == nil {
					t.Errorf("the build wrote into the author's tree %s", src)
				}
				return
			}
			var me *ModuleError
			if !errors.As(err, &me) {
				t.Fatalf("err = %v, want a *ModuleError", err)
			}
			// GCC quotes with ‘ ’ in a UTF-8 locale.
			got := strings.NewReplacer("‘", "'", "’", "'").Replace(me.First)
			if want := strings.ReplaceAll(tt.wantFirst, "SRC", src); got != want {
				t.Errorf("first error\n%s\nwant\n%s", got, want)
			}
		})
	}
}
