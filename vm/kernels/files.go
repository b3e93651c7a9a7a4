package kernels

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// SourceFiles returns a directory of the cache that holds the named files
// of a kernel source package (pkg, such as linux-source-6.1, at version)
// at their paths in the kernel's tree, such as
// samples/connector/cn_test.c: extracted from the package's tarball once,
// then kept. The tarball comes from where source finds it: /usr/src when
// dpkg has that version, the cache, LocalDebs, or apt.
func (c *Cache) SourceFiles(ctx context.Context, pkg, version string, files []string, log io.Writer) (string, error) {
	if !strings.HasPrefix(pkg, "linux-source-") {
		return "", fmt.Errorf("kernel source package %q is not a linux-source-* package", pkg)
	}
	dir := filepath.Join(c.Root, "files", pkg+"_"+version)
	if haveAll(dir, files) {
		return dir, nil
	}
	if log == nil {
		log = io.Discard
	}
	if err := os.MkdirAll(c.Root, 0o755); err != nil {
		return "", err
	}
	unlock, err := c.lock(ctx, pkg+"_"+version)
	if err != nil {
		return "", err
	}
	defer unlock()
	if haveAll(dir, files) { // another process extracted them meanwhile
		return dir, nil
	}
	tarball, err := c.source(ctx, Kernel{Name: pkg, Package: pkg, Version: version}, log)
	if err != nil {
		return "", err
	}
	c.printf("%s=%s: extracting %s from %s\n", pkg, version, strings.Join(files, " "), tarball)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// The tarball's top directory is the package's name.
	args := []string{"-xJf", tarball, "-C", tmp, "--strip-components=1"}
	for _, f := range files {
		args = append(args, pkg+"/"+f)
	}
	if err := c.runner()(ctx, tmp, log, "tar", args...); err != nil {
		return "", fmt.Errorf("extract %s from %s: %w (is it in the kernel's tree at this version?)", strings.Join(files, " "), tarball, err)
	}
	if !haveAll(tmp, files) {
		return "", fmt.Errorf("extract %s from %s: not all of them came out", strings.Join(files, " "), tarball)
	}
	// Files extracted before for another target stay beside these.
	if err := copyTree(dir, tmp); err != nil {
		return "", err
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// haveAll says whether dir holds every one of files.
func haveAll(dir string, files []string) bool {
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// copyTree copies the regular files under from (if it exists) into to,
// keeping those to has already.
func copyTree(from, to string) error {
	if _, err := os.Stat(from); err != nil {
		return nil
	}
	return filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if _, err := os.Stat(dst); err == nil {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return copyFile(p, dst)
	})
}
