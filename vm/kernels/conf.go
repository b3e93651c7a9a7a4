package kernels

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Kernel is one line of kernels/kernels.conf.
type Kernel struct {
	Name    string // the kernel's name in the matrix, e.g. 6.1-debug
	Release string // what `uname -r` prints, e.g. 6.1.192-cnlab-debug
	Version string // the Debian package version, e.g. 6.1.192-2
	// Package is the Debian source package (linux-source-6.1) of a kernel
	// built from source; empty for Debian's prebuilt kernels.
	Package string
	// Fragments are the config fragments merged over tinyconfig, absolute.
	Fragments []string
	// Patches are applied to the source (patch -p1) before it is
	// configured: the entries of the fragments field that end in .patch.
	Patches []string
	// MayFail marks a kernel whose failure is shown but fails nothing.
	MayFail bool
}

// FromSource tells whether the kernel is built from source.
func (k Kernel) FromSource() bool { return k.Package != "" }

// ReadConf reads a kernels.conf: lines of name, release and package
// version, then for kernels built from source the source package, the
// config fragments (comma-separated, relative to the repository's top, the
// directory above the one that holds the file; those ending in .patch are
// patches applied to the source first) and optional flags
// (may-fail). '#' starts a comment line.
func ReadConf(path string) ([]Kernel, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kernel list: %w", err)
	}
	defer f.Close()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("kernel list: %w", err)
	}
	top := filepath.Dir(filepath.Dir(abs))
	var ks []Kernel
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		k, ok, err := parseLine(sc.Text(), top)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if !ok {
			continue
		}
		if seen[k.Name] {
			return nil, fmt.Errorf("%s:%d: kernel %s named twice", path, n, k.Name)
		}
		seen[k.Name] = true
		ks = append(ks, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kernel list %s: %w", path, err)
	}
	return ks, nil
}

func parseLine(line, top string) (Kernel, bool, error) {
	f := strings.Fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return Kernel{}, false, nil
	}
	switch len(f) {
	case 3, 5, 6:
	default:
		return Kernel{}, false, fmt.Errorf("%q: want name, release and version, and for a kernel built from source its package, config fragments and optional flags", line)
	}
	k := Kernel{Name: f[0], Release: f[1], Version: f[2]}
	if len(f) == 3 {
		return k, true, nil
	}
	k.Package = f[3]
	if !strings.HasPrefix(k.Package, "linux-source-") {
		return Kernel{}, false, fmt.Errorf("kernel %s: source package %q is not a linux-source-* package", k.Name, k.Package)
	}
	for _, frag := range strings.Split(f[4], ",") {
		if frag == "" {
			continue
		}
		if !filepath.IsAbs(frag) {
			frag = filepath.Join(top, frag)
		}
		if strings.HasSuffix(frag, ".patch") {
			k.Patches = append(k.Patches, frag)
			continue
		}
		k.Fragments = append(k.Fragments, frag)
	}
	if len(k.Fragments) == 0 {
		return Kernel{}, false, fmt.Errorf("kernel %s: no config fragment", k.Name)
	}
	if len(f) == 6 {
		for _, flag := range strings.Split(f[5], ",") {
			switch flag {
			case "may-fail":
				k.MayFail = true
			default:
				return Kernel{}, false, fmt.Errorf("kernel %s: unknown flag %q (known: may-fail)", k.Name, flag)
			}
		}
	}
	return k, true, nil
}

// Find returns the kernel named name, or an error naming the known ones.
func Find(ks []Kernel, name string) (Kernel, error) {
	var names []string
	for _, k := range ks {
		if k.Name == name {
			return k, nil
		}
		names = append(names, k.Name)
	}
	return Kernel{}, fmt.Errorf("no kernel named %q (known: %s)", name, strings.Join(names, ", "))
}
