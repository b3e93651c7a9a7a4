package build

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// KernelModule is a module of the kernel's own tree that the guest loads
// before cnlab's.
type KernelModule struct {
	Name string // as the kernel knows it: underscores, no suffix
	Path string // in the kernel's modules directory, maybe compressed
}

// ModuleDepends returns the names in a module's "depends=" modinfo field.
func ModuleDepends(ko string) ([]string, error) {
	f, err := elf.Open(ko)
	if err != nil {
		return nil, fmt.Errorf("read modinfo of %s: %w", ko, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("read modinfo of %s: no .modinfo section", ko)
	}
	b, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read modinfo of %s: %w", ko, err)
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}

// ResolveModules finds the named modules and everything they depend on in a
// kernel's modules directory (/lib/modules/<release>), through its
// modules.dep, and returns them in an order they can be loaded in.
func ResolveModules(names []string, modulesDir string) ([]KernelModule, error) {
	if len(names) == 0 {
		return nil, nil
	}
	depFile := filepath.Join(modulesDir, "modules.dep")
	f, err := os.Open(depFile)
	if err != nil {
		return nil, fmt.Errorf("the cnlab module needs %s from the kernel's modules: %w (pass -modules-dir)", strings.Join(names, ", "), err)
	}
	defer f.Close()
	deps := map[string][]string{} // module name -> its path, then its dependencies' paths
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[moduleName(mod)] = append([]string{mod}, strings.Fields(rest)...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", depFile, err)
	}
	var out []KernelModule
	seen := map[string]bool{}
	add := func(path string) {
		n := moduleName(path)
		if !seen[n] {
			seen[n] = true
			out = append(out, KernelModule{Name: n, Path: filepath.Join(modulesDir, path)})
		}
	}
	for _, name := range names {
		line, ok := deps[moduleName(name)]
		if !ok {
			return nil, fmt.Errorf("the cnlab module needs module %s, which %s does not list: is it built into this kernel, or is the config missing it?", name, depFile)
		}
		// modules.dep lists dependencies so that modprobe loads them
		// from the last to the first.
		for i := len(line) - 1; i >= 1; i-- {
			add(line[i])
		}
		add(line[0])
	}
	return out, nil
}

// moduleName turns a path or name into the kernel's name for a module.
func moduleName(s string) string {
	s = filepath.Base(s)
	if i := strings.Index(s, ".ko"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}

// DecompressModule writes the module at src, uncompressed, to dst, so that
// the guest can load it whatever decompression its kernel supports.
func DecompressModule(src, dst string) error {
	var cmd *exec.Cmd
	switch {
	case strings.HasSuffix(src, ".ko"):
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	case strings.HasSuffix(src, ".ko.gz"):
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		zr, err := gzip.NewReader(in)
		if err != nil {
			return fmt.Errorf("decompress %s: %w", src, err)
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, zr); err != nil {
			return fmt.Errorf("decompress %s: %w", src, err)
		}
		return os.WriteFile(dst, buf.Bytes(), 0o644)
	case strings.HasSuffix(src, ".ko.xz"):
		cmd = exec.Command("xz", "-dc", src)
	case strings.HasSuffix(src, ".ko.zst"):
		cmd = exec.Command("zstd", "-dcq", src)
	default:
		return fmt.Errorf("module %s: unknown compression", src)
	}
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("decompress %s with %s: %w (install it with make setup)", src, cmd.Path, err)
	}
	return os.WriteFile(dst, out, 0o644)
}
