package kernels

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// patchedRecipe names the way a patched build is made from its base; change
// it when the steps change so that every cached patched build is made anew.
const patchedRecipe = "cnlab-kernels patched 1: cp -al source, cp -a o, patch -p1 each, make bzImage modules, modules_install"

// PatchedKey is the hash of everything a build of k with patches on top is
// made from: k's own key, then each patch's name and contents, in order.
func PatchedKey(k Kernel, patches []string) (string, error) {
	base, err := Key(k)
	if err != nil {
		return "", err
	}
	if len(patches) == 0 {
		return base, nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", patchedRecipe, base)
	for _, p := range patches {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("patch: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(p), len(b))
		h.Write(b)
	}
	return base + "+" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// PatchedDir is where a build of k with patches on top lives in the cache.
func (c *Cache) PatchedDir(k Kernel, patches []string) (string, error) {
	key, err := PatchedKey(k, patches)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.Root, fmt.Sprintf("%s-%s-%s", k.Name, k.Version, key)), nil
}

// EnsurePatched returns the build of k with patches applied on top of its
// source (a user's series, a mutant), from the cache or made now. It is made
// from k's own build (built first if the cache has none) without a full
// rebuild: the source is hard-linked (patch replaces the files it changes,
// never writing through a link), the build tree copied, the patches applied
// in order and make run again, so that only what they touch is compiled and
// the kernel relinked. The files of the build tree that make left as they
// were are then hard-linked to the base's, so that a patched build takes
// the room of what changed. A patch that does not apply, or a kernel that
// does not build, is an error of one line naming the patch and the first
// error, and leaves nothing in the cache but the log.
func (c *Cache) EnsurePatched(ctx context.Context, k Kernel, patches []string) (Build, error) {
	if len(patches) == 0 {
		return c.Ensure(ctx, k)
	}
	what := fmt.Sprintf("kernel %s with %s", k.Name, strings.Join(baseNames(patches), ","))
	if !k.FromSource() {
		return Build{}, fmt.Errorf("%s: patches need a kernel built from source (a line of kernels/kernels.conf with a linux-source package), not Debian's prebuilt %s", what, k.Release)
	}
	patches = append([]string(nil), patches...)
	for i, p := range patches {
		// patch runs in the source tree: a relative path would not be found.
		if abs, err := filepath.Abs(p); err == nil {
			patches[i] = abs
		}
		if st, err := os.Stat(p); err != nil {
			return Build{}, fmt.Errorf("%s: %w", what, err)
		} else if !st.Mode().IsRegular() {
			return Build{}, fmt.Errorf("%s: %s is not a file", what, p)
		}
	}
	dir, err := c.PatchedDir(k, patches)
	if err != nil {
		return Build{}, fmt.Errorf("%s: %w", what, err)
	}
	if b, err := open(dir); err == nil {
		return b, nil
	}
	base, err := c.Ensure(ctx, k)
	if err != nil {
		return Build{}, err
	}
	unlock, err := c.lock(ctx, k.Name)
	if err != nil {
		return Build{}, err
	}
	defer unlock()
	if b, err := open(dir); err == nil {
		return b, nil // another process made it while we waited
	}
	c.removeStale(k, dir)
	start := time.Now()
	// Made where the base was built, so that the absolute paths its
	// tools' dependency files hold resolve: elsewhere make rebuilds
	// objtool, and with it every object.
	tmp := builtIn(base)
	if tmp == "" || tmp == base.Dir || strings.HasPrefix(base.Dir, tmp+"/") {
		c.printf("%s: the base build does not say where it was built: every object will be compiled again\n", what)
		tmp = fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	}
	if _, err := os.Stat(filepath.Join(tmp, markerName)); err == nil {
		return Build{}, fmt.Errorf("%s: %s, where the base was built, holds a complete build: move it away", what, tmp)
	}
	if _, err := os.Stat(tmp); err == nil {
		c.printf("%s: removing what an interrupted patched build left: %s\n", what, tmp)
		if err := os.RemoveAll(tmp); err != nil {
			return Build{}, fmt.Errorf("%s: %w", what, err)
		}
	}
	failedLog := filepath.Join(c.Root, k.Name+"-patched.failed.log")
	if err := c.rebuild(ctx, k, base, patches, tmp); err != nil {
		if ctx.Err() == nil {
			_ = os.Rename(filepath.Join(tmp, "build.log"), failedLog)
		}
		_ = os.RemoveAll(tmp)
		if ctx.Err() != nil {
			return Build{}, fmt.Errorf("%s: interrupted", what)
		}
		return Build{}, fmt.Errorf("%s: %w (log: %s)", what, err, failedLog)
	}
	key, _ := PatchedKey(k, patches)
	info := Info{Name: k.Name, Release: k.Release, Package: k.Package, Version: k.Version, Key: key,
		Fragments: base.Info.Fragments, Patches: baseNames(patches), Base: filepath.Base(base.Dir),
		BuildSeconds: time.Since(start).Seconds(), Built: time.Now().UTC()}
	raw, _ := json.MarshalIndent(info, "", "\t")
	if err := os.WriteFile(filepath.Join(tmp, markerName), append(raw, '\n'), 0o644); err != nil {
		_ = os.RemoveAll(tmp)
		return Build{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return Build{}, fmt.Errorf("%s: %w", what, err)
	}
	c.printf("%s: rebuilt in %s: %s\n", what, time.Since(start).Round(time.Second), dir)
	return open(dir)
}

// rebuild makes tmp from the base build with patches applied: see
// EnsurePatched.
func (c *Cache) rebuild(ctx context.Context, k Kernel, base Build, patches []string, tmp string) error {
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(tmp, "build.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	run := c.runner()
	what := fmt.Sprintf("kernel %s with %s", k.Name, strings.Join(baseNames(patches), ","))
	step := func(s string) { c.printf("%s: %s\n", what, s); fmt.Fprintf(logf, "== %s\n", s) }
	baseSrc, src := filepath.Join(base.Dir, "linux"), filepath.Join(tmp, "linux")

	// The source first, hard-linked and patched: a patch that does not
	// apply is refused before the build tree is copied.
	t0 := time.Now()
	step("hard-linking the source of " + filepath.Base(base.Dir))
	if err := run(ctx, tmp, logf, "cp", "-al", baseSrc, src); err != nil {
		return fmt.Errorf("hard-linking the source of %s failed (%v): %s", base.Dir, err, firstError(logPath))
	}
	if err := os.RemoveAll(filepath.Join(src, "o")); err != nil {
		return err
	}
	for _, p := range patches {
		step("applying " + filepath.Base(p))
		var out bytes.Buffer
		err := run(ctx, src, io.MultiWriter(logf, &out), "patch", "-p1", "--forward", "--batch", "-i", p)
		if err != nil {
			return fmt.Errorf("%s does not apply: %s", filepath.Base(p), patchError(out.String(), err))
		}
	}
	step("copying the build tree of " + filepath.Base(base.Dir))
	if err := run(ctx, tmp, logf, "cp", "-a", filepath.Join(baseSrc, "o"), filepath.Join(src, "o")); err != nil {
		return fmt.Errorf("copying the build tree of %s failed (%v): %s", base.Dir, err, firstError(logPath))
	}
	copied := time.Since(t0)

	jobs := c.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	t1 := time.Now()
	step(fmt.Sprintf("compiling what the patches touch: make -j%d bzImage modules (nice 19)", jobs))
	if err := run(ctx, src, logf, "nice", "-n", "19", "make", "O=o", fmt.Sprintf("-j%d", jobs), "bzImage", "modules"); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("make: interrupted")
		}
		first := firstErrorIn(logPath, patches)
		by := ""
		if ps := patchesTouching(patches, first); len(ps) > 0 {
			by = " (in a file " + strings.Join(baseNames(ps), ", ") + " change)"
			if len(ps) == 1 {
				by = " (in a file " + filepath.Base(ps[0]) + " changes)"
			}
		}
		return fmt.Errorf("it does not build: %s%s", first, by)
	}
	compiled := time.Since(t1)

	step("installing: modules_install, image, config")
	if err := run(ctx, src, logf, "make", "O=o", "INSTALL_MOD_PATH="+filepath.Join(tmp, "modules"), "modules_install"); err != nil {
		return fmt.Errorf("make modules_install failed (%v): %s", err, firstError(logPath))
	}
	for _, l := range []string{"build", "source"} {
		_ = os.Remove(filepath.Join(tmp, "modules", "lib", "modules", k.Release, l))
	}
	o := filepath.Join(src, "o")
	// make O=o wrote its own Makefile into the build tree again.
	if err := os.WriteFile(filepath.Join(o, "Makefile"), []byte(relocatableMakefile), 0o644); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(o, "arch", "x86", "boot", "bzImage"), filepath.Join(tmp, "bzImage")); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(o, ".config"), filepath.Join(tmp, "config")); err != nil {
		return err
	}
	if err := os.Symlink(filepath.Join("linux", "o"), filepath.Join(tmp, "build")); err != nil {
		return err
	}
	linked, kept, err := linkUnchanged(filepath.Join(baseSrc, "o"), o)
	if err != nil {
		return fmt.Errorf("sharing the unchanged build files with %s: %w", base.Dir, err)
	}
	msg := fmt.Sprintf("copied in %s, compiled and linked in %s; %d build files shared with the base, %d (%d MB) its own",
		copied.Round(time.Second), compiled.Round(time.Second), linked, kept.files, kept.bytes>>20)
	step(msg)
	return nil
}

// builtIn returns the directory base was built in: its marker's BuiltIn,
// or, for a build whose marker predates it, the directory the absolute
// paths in its objtool's dependency files name; "" when neither says.
func builtIn(base Build) string {
	if base.Info.BuiltIn != "" {
		return base.Info.BuiltIn
	}
	const tail = "/linux/o/tools/objtool/"
	cmds, _ := filepath.Glob(filepath.Join(base.KDIR, "tools", "objtool", ".*.cmd"))
	for _, f := range cmds {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(raw)) {
			if i := strings.Index(field, tail); i > 0 && strings.HasPrefix(field, "/") {
				return filepath.Clean(field[:i])
			}
		}
	}
	return ""
}

// patchError is the first line of patch's output that says why a patch did
// not apply, with the file it was patching.
func patchError(out string, err error) string {
	file := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if f, ok := strings.CutPrefix(l, "patching file "); ok {
			file = strings.Trim(f, "'")
			continue
		}
		if strings.Contains(l, "FAILED") || strings.Contains(l, "can't find file") ||
			strings.Contains(l, "malformed") || strings.Contains(l, "Reversed (or previously applied)") ||
			strings.Contains(l, "Only garbage") || strings.Contains(l, "No such file") {
			if file != "" && !strings.Contains(l, file) {
				return file + ": " + l
			}
			return l
		}
	}
	if l := lastLine(out); l != "" {
		return l
	}
	return err.Error()
}

// patchesTouching returns the patches that change the file an error line
// names ("../drivers/connector/connector.c:145:2: error: ..."), in order.
func patchesTouching(patches []string, errLine string) []string {
	file, _, ok := strings.Cut(errLine, ":")
	if !ok || file == "" {
		return nil
	}
	file = strings.TrimPrefix(filepath.Clean(file), "../")
	var out []string
	for _, p := range patches {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(raw), "\n") {
			if name, ok := strings.CutPrefix(l, "+++ "); ok {
				name, _, _ = strings.Cut(name, "\t")
				if _, rest, ok := strings.Cut(name, "/"); ok && rest == file {
					out = append(out, p)
					break
				}
			}
		}
	}
	return out
}

type room struct {
	files int
	bytes int64
}

// linkUnchanged replaces each regular file of dir that make left as the copy
// of base had it (same size and modification time) by a hard link to base's,
// and counts what stays the patched build's own.
func linkUnchanged(base, dir string) (linked int, own room, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st, err := d.Info()
		if err != nil {
			return err
		}
		bst, err := os.Lstat(filepath.Join(base, rel))
		if err != nil || !bst.Mode().IsRegular() || bst.Size() != st.Size() || !bst.ModTime().Equal(st.ModTime()) {
			own.files++
			own.bytes += st.Size()
			return nil
		}
		if os.SameFile(st, bst) {
			linked++
			return nil
		}
		tmp := p + ".cnlab-link"
		if err := os.Link(filepath.Join(base, rel), tmp); err != nil {
			if errors.Is(err, fs.ErrExist) {
				_ = os.Remove(tmp)
			}
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			_ = os.Remove(tmp)
			return err
		}
		linked++
		return nil
	})
	return linked, own, err
}

// firstErrorIn returns the first compiler error of a build log in a file
// one of the patches changes (an error the compiler reports in a header a
// macro comes from is not the patch's line), else the log's first error.
func firstErrorIn(log string, patches []string) string {
	raw, err := os.ReadFile(log)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.Contains(l, "error:") && len(patchesTouching(patches, strings.TrimSpace(l))) > 0 {
			return strings.TrimSpace(l)
		}
	}
	return firstError(log)
}
