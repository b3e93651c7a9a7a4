package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cnlab/cnlab/vm"
	"github.com/cnlab/cnlab/vm/kernels"
)

// ExportKernel writes a kernel of a kernels.conf as a kernel directory that
// -kernel-dir takes, on this machine or another: bzImage, build (a prepared
// build tree with Module.symvers, made relocatable), config, modules
// (lib/modules/<release>) and the marker. A Debian kernel is copied from
// where its packages put it; a kernel built from source is copied from the
// cache, which must hold it (make kernels builds it).
func ExportKernel(conf, name, dir string) error {
	ks, err := kernels.ReadConf(conf)
	if err != nil {
		return err
	}
	k, err := kernels.Find(ks, name)
	if err != nil {
		return fmt.Errorf("-export-kernel: %w", err)
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("-export-kernel: %s exists: give a new directory", dir)
	}
	if k.FromSource() {
		c := &kernels.Cache{Root: kernels.DefaultRoot()}
		b, ok, err := c.Lookup(k)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("-export-kernel: %s is built from source and the cache has no build of it: run make kernels first", name)
		}
		return copyTree(b.Dir, dir, false)
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := exportDebian(k, tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("-export-kernel %s: %w", name, err)
	}
	return os.Rename(tmp, dir)
}

// exportDebian lays out Debian's packages of a kernel as a kernel
// directory. Debian's build tree is two: the arch's (objects, config,
// Module.symvers), whose Makefile includes the common one (the sources)
// by absolute path, and whose scripts are symlinks into linux-kbuild. The
// copy dereferences the links and includes the common tree by a relative
// path, so the directory works wherever it is moved.
func exportDebian(k kernels.Kernel, dir string) error {
	rel := k.Release
	image := "/boot/vmlinuz-" + rel
	kdir, err := filepath.EvalSymlinks(filepath.Join("/lib/modules", rel, "build"))
	if err != nil {
		return fmt.Errorf("%w (install the headers with make setup KERNEL=%s)", err, k.Name)
	}
	mk, err := os.ReadFile(filepath.Join(kdir, "Makefile"))
	if err != nil {
		return err
	}
	common, ok := strings.CutPrefix(strings.TrimSpace(string(mk)), "include ")
	if !ok || strings.Contains(common, "\n") {
		return fmt.Errorf("%s/Makefile is not Debian's one-line include of the common tree", kdir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := copyTree(image, filepath.Join(dir, "bzImage"), true); err != nil {
		return err
	}
	if err := copyTree(kdir, filepath.Join(dir, "build"), true); err != nil {
		return err
	}
	if err := copyTree(filepath.Dir(common), filepath.Join(dir, "build-common"), true); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "build", "Makefile"), []byte("include $(dir $(lastword $(MAKEFILE_LIST)))../build-common/Makefile\n"), 0o644); err != nil {
		return err
	}
	if err := copyTree(filepath.Join(kdir, ".config"), filepath.Join(dir, "config"), true); err != nil {
		return err
	}
	mods := filepath.Join(dir, "modules", "lib", "modules", rel)
	if err := os.MkdirAll(mods, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join("/lib/modules", rel))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "build" || e.Name() == "source" {
			continue
		}
		if err := copyTree(filepath.Join("/lib/modules", rel, e.Name()), filepath.Join(mods, e.Name()), false); err != nil {
			return err
		}
	}
	if r, err := vm.TreeRelease(filepath.Join(dir, "build")); err != nil || r != rel {
		return fmt.Errorf("the exported build tree builds for %q, want %s: %v", r, rel, err)
	}
	info, _ := json.MarshalIndent(kernels.Info{Name: k.Name, Release: rel, Package: "linux-image-" + rel, Version: k.Version, Built: time.Now()}, "", "  ")
	return os.WriteFile(filepath.Join(dir, kernels.MarkerName), info, 0o644)
}

// copyTree copies a file or a directory tree; deref follows symbolic links.
func copyTree(from, to string, deref bool) error {
	flags := "-a"
	if deref {
		flags = "-rL"
	}
	if out, err := exec.Command("cp", flags, from, to).CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s to %s: %v: %s", from, to, err, strings.TrimSpace(string(out)))
	}
	return nil
}
