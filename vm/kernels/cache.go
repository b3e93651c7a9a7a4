package kernels

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// recipe names the way a kernel is built here; change it when the steps
// change so that every cached build is built anew.
const recipe = "cnlab-kernels 1: tinyconfig, merge_config -m, olddefconfig, bzImage modules, O=<src>/o"

// markerName is the file, last written into a build, that says it is
// complete.
const markerName = "cnlab-kernel.json"

// Cache is a directory of source-built kernels.
type Cache struct {
	Root string
	// Jobs is make's -j; 0 means the number of CPUs.
	Jobs int
	// Progress receives one line per step and a progress line while make
	// runs; nil discards them.
	Progress io.Writer
	// Sources is apt's sources list for downloading the source packages.
	Sources string
	// LocalDebs, if set, is a directory where a source package may have
	// been downloaded already, as PACKAGE_VERSION_all.deb (make setup's
	// .cache/debs): looked in before apt is asked.
	LocalDebs string

	run runFunc // the commands; tests replace it
}

// DefaultRoot is $CNLAB_KERNEL_CACHE, or ~/.cache/cnlab/kernels.
func DefaultRoot() string {
	if d := os.Getenv("CNLAB_KERNEL_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "cnlab", "kernels")
}

// Build is a kernel built from source, complete in its directory.
type Build struct {
	Dir        string
	Image      string // Dir/bzImage
	KDIR       string // Dir/build: the prepared build tree for modules
	Config     string // Dir/config
	ModulesDir string // Dir/modules/lib/modules/<release>
	Info       Info
}

// Info is what the marker file of a complete build holds.
type Info struct {
	Name, Release, Package, Version, Key string
	Fragments                            []string
	// Patches are the patches of a patched build (EnsurePatched) applied
	// on top of the kernel's own, in order; Base is the build it was made
	// from.
	Patches []string `json:",omitempty"`
	Base    string   `json:",omitempty"`
	// BuiltIn is the directory the build was made in, before it was
	// renamed into place: the build tree's tools (objtool,
	// resolve_btfids) refer to their sources by absolute paths there, so
	// a patched build made from this one is made there again.
	BuiltIn      string `json:",omitempty"`
	BuildSeconds float64
	Built        time.Time
}

// Key is the hash of everything a build of k is made from.
func Key(k Kernel) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", recipe, k.Package, k.Version, k.Release)
	for _, f := range append(append([]string(nil), k.Fragments...), k.Patches...) {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("config fragment: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// Dir is where a build of k lives in the cache.
func (c *Cache) Dir(k Kernel) (string, error) {
	key, err := Key(k)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.Root, fmt.Sprintf("%s-%s-%s", k.Name, k.Version, key)), nil
}

// Lookup returns the complete build of k, if the cache has it.
func (c *Cache) Lookup(k Kernel) (Build, bool, error) {
	dir, err := c.Dir(k)
	if err != nil {
		return Build{}, false, err
	}
	b, err := open(dir)
	if err != nil {
		return Build{}, false, nil
	}
	return b, true, nil
}

func open(dir string) (Build, error) {
	raw, err := os.ReadFile(filepath.Join(dir, markerName))
	if err != nil {
		return Build{}, err
	}
	var info Info
	if err := json.Unmarshal(raw, &info); err != nil {
		return Build{}, fmt.Errorf("%s: %w", markerName, err)
	}
	b := Build{Dir: dir, Image: filepath.Join(dir, "bzImage"), KDIR: filepath.Join(dir, "build"),
		Config: filepath.Join(dir, "config"), ModulesDir: filepath.Join(dir, "modules", "lib", "modules", info.Release), Info: info}
	for _, p := range []string{b.Image, b.Config, filepath.Join(b.KDIR, "Module.symvers")} {
		if _, err := os.Stat(p); err != nil {
			return Build{}, fmt.Errorf("incomplete build: %w", err)
		}
	}
	return b, nil
}

// Ensure returns the build of k from the cache, building it first when the
// cache has none. Half-written builds of k that interrupted runs left are
// removed. Two processes that ensure the same kernel build it once.
func (c *Cache) Ensure(ctx context.Context, k Kernel) (Build, error) {
	if !k.FromSource() {
		return Build{}, fmt.Errorf("kernel %s: not built from source", k.Name)
	}
	dir, err := c.Dir(k)
	if err != nil {
		return Build{}, fmt.Errorf("kernel %s: %w", k.Name, err)
	}
	if b, err := open(dir); err == nil {
		return b, nil
	}
	if err := os.MkdirAll(c.Root, 0o755); err != nil {
		return Build{}, fmt.Errorf("kernel cache: %w", err)
	}
	unlock, err := c.lock(ctx, k.Name)
	if err != nil {
		return Build{}, err
	}
	defer unlock()
	if b, err := open(dir); err == nil {
		return b, nil // another process built it while we waited
	}
	c.removeStale(k, dir)
	start := time.Now()
	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	if err := c.build(ctx, k, tmp); err != nil {
		if ctx.Err() == nil {
			// Keep the log of a failed build; the rest goes.
			_ = os.Rename(filepath.Join(tmp, "build.log"), filepath.Join(c.Root, k.Name+".failed.log"))
		}
		_ = os.RemoveAll(tmp)
		return Build{}, fmt.Errorf("kernel %s: %w", k.Name, err)
	}
	key, _ := Key(k)
	info := Info{Name: k.Name, Release: k.Release, Package: k.Package, Version: k.Version, Key: key,
		BuiltIn: tmp, BuildSeconds: time.Since(start).Seconds(), Built: time.Now().UTC()}
	for _, f := range append(append([]string(nil), k.Fragments...), k.Patches...) {
		info.Fragments = append(info.Fragments, filepath.Base(f))
	}
	raw, _ := json.MarshalIndent(info, "", "\t")
	if err := os.WriteFile(filepath.Join(tmp, markerName), append(raw, '\n'), 0o644); err != nil {
		_ = os.RemoveAll(tmp)
		return Build{}, fmt.Errorf("kernel %s: %w", k.Name, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return Build{}, fmt.Errorf("kernel %s: %w", k.Name, err)
	}
	c.saveLast(k.Name, info.BuildSeconds)
	c.printf("kernel %s: built in %s: %s\n", k.Name, time.Since(start).Round(time.Second), dir)
	return open(dir)
}

// removeStale removes what interrupted builds of k left: temporary
// directories, and a directory without its marker.
func (c *Cache) removeStale(k Kernel, dir string) {
	stale, _ := filepath.Glob(dir + ".tmp-*")
	if _, err := os.Stat(dir); err == nil {
		stale = append(stale, dir)
	}
	for _, s := range stale {
		c.printf("kernel %s: removing a half-written build left by an interrupted run: %s\n", k.Name, s)
		_ = os.RemoveAll(s)
	}
}

// lock takes an exclusive lock on the kernel's name in the cache.
func (c *Cache) lock(ctx context.Context, name string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.Root, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kernel cache lock: %w", err)
	}
	said := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("kernel cache lock: %w", err)
		}
		if !said {
			c.printf("kernel %s: waiting for another process that builds it\n", name)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

type last struct {
	Seconds float64
	Lines   int
}

func (c *Cache) lastPath(name string) string { return filepath.Join(c.Root, name+".last.json") }

func (c *Cache) loadLast(name string) last {
	var l last
	if raw, err := os.ReadFile(c.lastPath(name)); err == nil {
		_ = json.Unmarshal(raw, &l)
	}
	return l
}

func (c *Cache) saveLast(name string, seconds float64) {
	l := c.loadLast(name)
	l.Seconds = seconds
	raw, _ := json.Marshal(l)
	_ = os.WriteFile(c.lastPath(name), raw, 0o644)
}

func (c *Cache) saveLines(name string, lines int) {
	l := c.loadLast(name)
	l.Lines = lines
	raw, _ := json.Marshal(l)
	_ = os.WriteFile(c.lastPath(name), raw, 0o644)
}

func (c *Cache) printf(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format, args...)
	}
}

// firstError returns the first line of a build log that reads like the
// cause of a failure.
func firstError(log string) string {
	raw, err := os.ReadFile(log)
	if err != nil {
		return ""
	}
	lines := strings.Split(string(raw), "\n")
	for _, l := range lines {
		if strings.Contains(l, "error:") || strings.Contains(l, "Error ") || strings.Contains(l, "***") {
			return strings.TrimSpace(l)
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(lines[i]); s != "" {
			return s
		}
	}
	return ""
}
