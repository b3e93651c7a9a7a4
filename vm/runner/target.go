package runner

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cnlab/cnlab/vm"
	"github.com/cnlab/cnlab/vm/kernels"
)

// target is one kernel to run on.
type target struct {
	Name       string // from kernels.conf, or the release
	Release    string
	Image      string
	KDIR       string
	Config     string
	ModulesDir string
	// KernelFiles is a kernel source tree holding the files a target's
	// kernel-source names (kernelFiles).
	KernelFiles string
}

// targets returns the kernels the options name: -kernel, or -matrix.
func targets(o *Options) ([]target, error) {
	if o.KernelDir != "" {
		b, err := kernels.Open(o.KernelDir)
		if err != nil {
			return nil, fmt.Errorf("-kernel-dir %s: %w (a kernel directory is what make kernels builds or cnlab-vm -export-kernel writes)", o.KernelDir, err)
		}
		return []target{{Name: b.Info.Name, Image: b.Image, KDIR: b.KDIR, Config: b.Config, ModulesDir: b.ModulesDir}}, nil
	}
	if o.Matrix != "" {
		return matrixTargets(o.Matrix, o.Kernels)
	}
	return []target{{Image: o.Kernel, KDIR: o.KDir, Config: o.Config, ModulesDir: o.ModulesDir}}, nil
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
// release, a build tree for the same release that can build modules, and a
// config with what the job needs. It fills in the defaults and returns
// warnings.
func (t *target) prepare(o *Options) ([]string, error) {
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
	if _, err := os.Stat(filepath.Join(t.KDIR, "Module.symvers")); err != nil {
		return nil, fmt.Errorf("kernel build tree %s has no Module.symvers, so the module's symbols cannot be checked against the kernel: run make modules there (make modules_prepare does not write it), or use the kernel's headers package", t.KDIR)
	}
	opts := vm.RequiredConfig
	if needsProbes(o) {
		opts = append(append([]vm.ConfigOption(nil), opts...), vm.ProbesConfig...)
	}
	return vm.CheckConfig(t.Config, opts)
}

// needsProbes says whether the job attaches the eBPF probes: the suites do
// (their witness), and so do -trace, -bundle and -bench.
func needsProbes(o *Options) bool {
	return len(o.Steps) == 0 || o.Trace || o.Bundle != ""
}
