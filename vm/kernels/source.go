package kernels

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// source returns the path of k's source tarball: /usr/src's when dpkg has
// k's package at k's version installed, else one downloaded with apt into
// the cache.
func (c *Cache) source(ctx context.Context, k Kernel, log io.Writer) (string, error) {
	tarName := k.Package + ".tar.xz"
	if v, err := c.output(ctx, "/", "dpkg-query", "-W", "-f=${Version}", k.Package); err == nil && v == k.Version {
		p := filepath.Join("/usr/src", tarName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	debs := filepath.Join(c.Root, "debs")
	cached := filepath.Join(debs, fmt.Sprintf("%s_%s.tar.xz", k.Package, k.Version))
	if _, err := os.Stat(cached); err == nil {
		return cached, nil
	}
	if c.LocalDebs != "" {
		// make setup's download: unpacked like apt-get's below.
		deb := filepath.Join(c.LocalDebs, fmt.Sprintf("%s_%s_all.deb", k.Package, k.Version))
		if _, err := os.Stat(deb); err == nil {
			return c.unpackSource(ctx, deb, tarName, cached, log)
		}
	}
	if err := c.aptHas(ctx, k); err != nil {
		return "", err
	}
	c.printf("kernel %s: downloading %s=%s with apt-get\n", k.Name, k.Package, k.Version)
	dl := filepath.Join(debs, fmt.Sprintf("tmp-%d", os.Getpid()))
	_ = os.RemoveAll(dl)
	if err := os.MkdirAll(dl, 0o755); err != nil {
		return "", err
	}
	defer os.RemoveAll(dl)
	if err := c.runner()(ctx, dl, log, "apt-get", append(c.aptOptions(), "download", k.Package+"="+k.Version)...); err != nil {
		return "", fmt.Errorf("apt-get download %s=%s failed: %w", k.Package, k.Version, err)
	}
	found, _ := filepath.Glob(filepath.Join(dl, k.Package+"_*.deb"))
	if len(found) != 1 {
		return "", fmt.Errorf("apt-get download %s=%s left no package in %s", k.Package, k.Version, dl)
	}
	return c.unpackSource(ctx, found[0], tarName, cached, log)
}

// unpackSource takes the source tarball tarName out of the package deb
// into cached.
func (c *Cache) unpackSource(ctx context.Context, deb, tarName, cached string, log io.Writer) (string, error) {
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		return "", err
	}
	x, err := os.MkdirTemp(filepath.Dir(cached), "unpack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(x)
	if err := c.runner()(ctx, x, log, "dpkg-deb", "-x", deb, x); err != nil {
		return "", fmt.Errorf("unpack %s: %w", deb, err)
	}
	if err := os.Rename(filepath.Join(x, "usr", "src", tarName), cached); err != nil {
		return "", fmt.Errorf("%s holds no usr/src/%s: %w", deb, tarName, err)
	}
	return cached, nil
}

// aptDir holds apt's lists and cache for the project's own sources list.
func (c *Cache) aptDir() string { return filepath.Join(c.Root, "apt") }

func (c *Cache) aptOptions() []string {
	d := c.aptDir()
	return []string{"-q",
		"-o", "Dir::Etc::sourcelist=" + c.Sources,
		"-o", "Dir::Etc::sourceparts=-",
		"-o", "Dir::State::Lists=" + filepath.Join(d, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(d, "cache"),
		"-o", "APT::Get::List-Cleanup=0",
	}
}

// aptHas checks that apt, with the project's sources list, has k's package
// at k's version, updating its lists once when they do not.
func (c *Cache) aptHas(ctx context.Context, k Kernel) error {
	if c.Sources == "" {
		return fmt.Errorf("%s=%s is not installed and no apt sources list is given to download it", k.Package, k.Version)
	}
	if _, err := os.Stat(c.Sources); err != nil {
		return fmt.Errorf("apt sources list: %w", err)
	}
	if abs, err := filepath.Abs(c.Sources); err == nil {
		c.Sources = abs // apt runs in /
	}
	for _, sub := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(c.aptDir(), sub), 0o755); err != nil {
			return err
		}
	}
	var versions []string
	for attempt := 0; attempt < 2; attempt++ {
		if attempt == 1 {
			c.printf("kernel %s: apt-get update (sources: %s; lists in %s)\n", k.Name, c.Sources, c.aptDir())
			var log strings.Builder
			if err := c.runner()(ctx, "/", &log, "apt-get", append(c.aptOptions(), "update")...); err != nil {
				return fmt.Errorf("apt-get update with %s failed: %w: %s", c.Sources, err, lastLine(log.String()))
			}
		}
		out, _ := c.output(ctx, "/", "apt-cache", append(c.aptOptions(), "madison", k.Package)...)
		versions = madisonVersions(out)
		if slices.Contains(versions, k.Version) {
			return nil
		}
	}
	has := "no version at all"
	if len(versions) > 0 {
		has = strings.Join(versions, ", ")
	}
	return fmt.Errorf("apt has no %s at version %s (it has %s): pin one it has in kernels/kernels.conf", k.Package, k.Version, has)
}

// madisonVersions reads the versions from `apt-cache madison` output:
// "pkg | version | source".
func madisonVersions(out string) []string {
	var vs []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Split(l, "|")
		if len(f) >= 3 {
			if v := strings.TrimSpace(f[1]); v != "" && !slices.Contains(vs, v) {
				vs = append(vs, v)
			}
		}
	}
	return vs
}
