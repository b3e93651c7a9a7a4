package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cnlab/cnlab/vm"
)

// target is one kernel to run on.
type target struct {
	Name       string // from kernels.conf, or the release
	Release    string
	Image      string
	KDIR       string
	Config     string
	ModulesDir string
}

// targets returns the kernels the options name: -kernel, or -matrix.
func targets(o *options) ([]target, error) {
	switch {
	case o.matrix != "" && o.kernel != "":
		return nil, errors.New("give -kernel or -matrix, not both")
	case o.matrix != "":
		return matrixTargets(o.matrix, o.kernels)
	case o.kernel != "":
		return []target{{Image: o.kernel, KDIR: o.kdir, Config: o.config, ModulesDir: o.modulesDir}}, nil
	default:
		return nil, errors.New("-kernel or -matrix is required: the kernel image to boot, or a list of kernels (make e2e picks one from scripts/kernels.conf)")
	}
}

// matrixTargets reads a kernels.conf: lines of name, release and package
// version; the image and build tree are where Debian's packages put them.
func matrixTargets(path, only string) ([]target, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kernel matrix: %w", err)
	}
	defer f.Close()
	var all []target
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("kernel matrix %s: line %q: want name, release and version", path, sc.Text())
		}
		rel := fields[1]
		all = append(all, target{Name: fields[0], Image: "/boot/vmlinuz-" + rel,
			KDIR: filepath.Join("/lib/modules", rel, "build"), ModulesDir: filepath.Join("/lib/modules", rel)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kernel matrix %s: %w", path, err)
	}
	if only == "" {
		return all, nil
	}
	var out []target
	for _, name := range strings.Split(only, ",") {
		i := slices.IndexFunc(all, func(t target) bool { return t.Name == name })
		if i < 0 {
			var names []string
			for _, t := range all {
				names = append(names, t.Name)
			}
			return nil, fmt.Errorf("-kernels: no kernel named %q in %s (known: %s)", name, path, strings.Join(names, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// prepare checks a target before anything is built or booted: the image's
// release, a build tree for the same release, and a config with what the
// suites need. It fills in the defaults and returns warnings.
func (t *target) prepare() ([]string, error) {
	rel, err := vm.ImageRelease(t.Image)
	if err != nil {
		return nil, err
	}
	t.Release = rel
	if t.Name == "" {
		t.Name = rel
	}
	if t.KDIR == "" {
		t.KDIR = filepath.Join("/lib/modules", rel, "build")
	}
	if t.ModulesDir == "" {
		t.ModulesDir = filepath.Join("/lib/modules", rel)
	}
	if t.Config == "" {
		t.Config = filepath.Join(t.KDIR, ".config")
	}
	treeRel, err := vm.TreeRelease(t.KDIR)
	if err != nil {
		return nil, err
	}
	if treeRel != rel {
		return nil, fmt.Errorf("kernel image %s is %s but build tree %s builds modules for %s: the module would not load (pass the matching -kdir)", t.Image, rel, t.KDIR, treeRel)
	}
	return vm.CheckConfig(t.Config, vm.RequiredConfig)
}
