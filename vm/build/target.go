package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// TargetModule is a connector module that is not cnlab's (a driver
// author's, named by a target file), to build against a kernel.
type TargetModule struct {
	// Name is the .ko's name, without .ko.
	Name string
	// Dir is the module's source directory, with its Kbuild or Makefile:
	// its sources are copied and built out of tree, so that nothing is
	// written into the author's tree.
	Dir string
	// Files, instead of Dir, are the module's sources by name (files of
	// the kernel's own tree, such as samples/connector/cn_test.c), for
	// which a Kbuild is written.
	Files map[string][]byte
}

// BuildTarget builds m against the prepared kernel build tree kdir, in
// outDir (one per kernel), with W=1, and returns the path of its .ko. The
// build's output is kept in outDir/build.log. A build that ran and failed
// is a *ModuleError whose First is the compiler's first error, with the
// copy's paths turned back into the author's.
func BuildTarget(ctx context.Context, m TargetModule, kdir, outDir string) (string, error) {
	if err := os.RemoveAll(outDir); err != nil {
		return "", fmt.Errorf("build module %s: %w", m.Name, err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("build module %s: %w", m.Name, err)
	}
	var err error
	if m.Dir != "" {
		err = copySources(m.Dir, outDir)
	} else {
		err = writeKbuildSources(m, outDir)
	}
	if err != nil {
		return "", fmt.Errorf("build module %s: %w", m.Name, err)
	}
	if err := kbuild(ctx, kdir, outDir, nil); err != nil {
		var me *ModuleError
		if errors.As(err, &me) && m.Dir != "" {
			abs, _ := filepath.Abs(outDir)
			me.First = authorPaths(me.First, abs, m.Dir)
		}
		return "", err
	}
	ko := filepath.Join(outDir, m.Name+".ko")
	if _, err := os.Stat(ko); err != nil {
		made, _ := filepath.Glob(filepath.Join(outDir, "*.ko"))
		for i := range made {
			made[i] = filepath.Base(made[i])
		}
		first := fmt.Sprintf("the build made no %s.ko (it made %s): the target's module line must name the module as its Kbuild's obj-m does", m.Name, orNothing(made))
		return "", &ModuleError{Err: fmt.Errorf("module %s against %s: %s", m.Name, kdir, first), First: first, Log: filepath.Join(outDir, "build.log")}
	}
	return ko, nil
}

// leadingFile is the file name an error line starts with, before its
// ":line:" ("cn_buggy.c:40:2: error: ...").
var leadingFile = regexp.MustCompile(`^([^\s:/][^\s:]*):\d+:`)

// authorPaths turns the paths of a build's error line in the copy outDir
// (absolute) back into the author's dir: absolute paths into the copy, as
// kernels before 6.13 write them, and a leading file name relative to the
// module's directory, as 6.13 and later write them (they build an M=
// module from inside its directory), when the copy holds that file.
func authorPaths(first, outDir, dir string) string {
	first = strings.ReplaceAll(first, outDir+"/", dir+"/")
	if m := leadingFile.FindStringSubmatch(first); m != nil {
		if fi, err := os.Stat(filepath.Join(outDir, m[1])); err == nil && fi.Mode().IsRegular() {
			first = filepath.Join(dir, m[1]) + first[len(m[1]):]
		}
	}
	return first
}

func orNothing(names []string) string {
	if len(names) == 0 {
		return "no .ko at all"
	}
	return strings.Join(names, ", ")
}

// buildProducts are the files a build leaves in a module's tree: never
// copied, so that an in-tree build's leftovers do not pass for sources.
var buildProducts = regexp.MustCompile(`\.(o|ko|a|mod|mod\.c|cmd|order|symvers|dwo|gcno|gcda)$`)

// copySources copies the module's source tree from src to dst: every
// regular file and directory, but hidden ones (.git, .*.cmd) and build
// products.
func copySources(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || buildProducts.MatchString(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// writeKbuildSources writes m.Files into dir, flat, with a Kbuild that
// builds them as m.Name: one .c file is renamed NAME.c, several are
// NAME-y's objects.
func writeKbuildSources(m TargetModule, dir string) error {
	var cs []string
	names := map[string]string{} // base name -> its path in the tree
	for path := range m.Files {
		base := filepath.Base(path)
		if other, dup := names[base]; dup {
			return fmt.Errorf("%s and %s have the same name: the module's files are built side by side", other, path)
		}
		names[base] = path
		if strings.HasSuffix(base, ".c") {
			cs = append(cs, base)
		}
	}
	slices.Sort(cs)
	kbuild := fmt.Sprintf("obj-m += %s.o\n", m.Name)
	rename := ""
	switch {
	case len(cs) == 0:
		return fmt.Errorf("no .c file to build")
	case len(cs) == 1:
		rename = cs[0]
	default:
		var objs []string
		for _, c := range cs {
			if c == m.Name+".c" {
				return fmt.Errorf("%s: a module of several files cannot have one named as the module (%s.o would be both)", names[c], m.Name)
			}
			objs = append(objs, strings.TrimSuffix(c, ".c")+".o")
		}
		kbuild += fmt.Sprintf("%s-y := %s\n", m.Name, strings.Join(objs, " "))
	}
	for base, path := range names {
		name := base
		if base == rename {
			name = m.Name + ".c"
		}
		if err := os.WriteFile(filepath.Join(dir, name), m.Files[path], 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "Kbuild"), []byte(kbuild), 0o644)
}

// errorLine matches a compiler's or linker's error, modpost's, and
// make's own.
var errorLine = regexp.MustCompile(`(: (fatal )?error: |^ERROR: |^make(\[\d+\])?: \*\*\* )`)

// FirstError returns the first error line of a build's output: the
// compiler's (file:line:col: error: ...), modpost's (ERROR: modpost: ...),
// or make's own (make: *** ...), in that order of preference; else its
// last line.
func FirstError(log string) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	var modpost, mk string
	for _, l := range lines {
		if !errorLine.MatchString(l) {
			continue
		}
		switch {
		case strings.Contains(l, ": error: ") || strings.Contains(l, ": fatal error: "):
			return strings.TrimSpace(l)
		case strings.HasPrefix(l, "ERROR: "):
			if modpost == "" {
				modpost = l
			}
		default:
			if mk == "" {
				mk = l
			}
		}
	}
	if modpost != "" {
		return strings.TrimSpace(modpost)
	}
	if mk != "" {
		return strings.TrimSpace(mk)
	}
	return strings.TrimSpace(lines[len(lines)-1])
}
