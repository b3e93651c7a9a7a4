package kernels

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
)

// runFunc runs a command in dir with its output to out.
type runFunc func(ctx context.Context, dir string, out io.Writer, name string, args ...string) error

func execRun(ctx context.Context, dir string, out io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	// What would change the kernel's build behind the cache key's back:
	// the module's gcov switch, compiler flags, another output tree.
	for _, e := range os.Environ() {
		switch k, _, _ := strings.Cut(e, "="); k {
		case "GCOV_PROFILE", "KCFLAGS", "KCPPFLAGS", "KAFLAGS", "O", "KBUILD_OUTPUT", "ARCH", "CROSS_COMPILE", "LLVM", "CC", "W", "C":
		default:
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd.Run()
}

func (c *Cache) runner() runFunc {
	if c.run == nil {
		return execRun
	}
	return c.run
}

// output runs a command and returns its trimmed output.
func (c *Cache) output(ctx context.Context, dir, name string, args ...string) (string, error) {
	var b bytes.Buffer
	err := c.runner()(ctx, dir, &b, name, args...)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLine(b.String()))
	}
	return strings.TrimSpace(b.String()), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// build builds k into tmp: the source in tmp/linux, the build tree in
// tmp/linux/o (a subdirectory of the source, so that it names the source by
// a relative path) and tmp/build a link to it.
func (c *Cache) build(ctx context.Context, k Kernel, tmp string) error {
	if err := os.MkdirAll(filepath.Join(tmp, "linux"), 0o755); err != nil {
		return err
	}
	logPath := filepath.Join(tmp, "build.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	run := c.runner()
	src := filepath.Join(tmp, "linux")
	step := func(what string) { c.printf("kernel %s: %s\n", k.Name, what); fmt.Fprintf(logf, "== %s\n", what) }
	failed := func(what string, err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: interrupted", what)
		}
		return fmt.Errorf("%s failed (%v): %s (log: %s)", what, err, firstError(logPath),
			filepath.Join(c.Root, k.Name+".failed.log"))
	}

	tarball, err := c.source(ctx, k, logf)
	if err != nil {
		return err
	}
	step("extracting " + filepath.Base(tarball))
	if err := run(ctx, src, logf, "tar", "-xJf", tarball, "--strip-components=1"); err != nil {
		return failed("extracting "+tarball, err)
	}
	for _, p := range k.Patches {
		step("applying " + filepath.Base(p))
		if err := run(ctx, src, logf, "patch", "-p1", "--forward", "--batch", "-i", p); err != nil {
			return failed("patch "+filepath.Base(p), err)
		}
	}
	kv, err := c.output(ctx, src, "make", "-s", "kernelversion")
	if err != nil {
		return err
	}
	local, ok := strings.CutPrefix(k.Release, kv)
	if !ok || (local != "" && local[0] != '-') {
		return fmt.Errorf("release %s in the kernel list does not start with the source's version %s: give it as %s-<suffix>", k.Release, kv, kv)
	}
	lv := filepath.Join(tmp, "localversion.config")
	if err := os.WriteFile(lv, []byte(fmt.Sprintf("CONFIG_LOCALVERSION=%q\n# CONFIG_LOCALVERSION_AUTO is not set\n", local)), 0o644); err != nil {
		return err
	}

	step("configuring: tinyconfig + " + strings.Join(baseNames(k.Fragments), " + "))
	if err := run(ctx, src, logf, "make", "O=o", "tinyconfig"); err != nil {
		return failed("make tinyconfig", err)
	}
	merge := append([]string{"-m", "-O", "o", "o/.config"}, k.Fragments...)
	if err := run(ctx, src, logf, "scripts/kconfig/merge_config.sh", append(merge, lv)...); err != nil {
		return failed("merge_config.sh", err)
	}
	if err := run(ctx, src, logf, "make", "O=o", "olddefconfig"); err != nil {
		return failed("make olddefconfig", err)
	}
	if err := checkFragments(filepath.Join(src, "o", ".config"), append(k.Fragments, lv)); err != nil {
		return err
	}
	// kernelrelease reads the local version from include/config/auto.conf,
	// which syncconfig writes.
	if err := run(ctx, src, logf, "make", "O=o", "syncconfig"); err != nil {
		return failed("make syncconfig", err)
	}
	rel, err := c.output(ctx, src, "make", "-s", "O=o", "kernelrelease")
	if err != nil {
		return err
	}
	if rel != k.Release {
		return fmt.Errorf("the source builds release %s, but the kernel list says %s", rel, k.Release)
	}

	jobs := c.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	step(fmt.Sprintf("compiling: make -j%d bzImage modules (nice 19)", jobs))
	lines := &lineCounter{w: logf}
	stop := c.progress(k.Name, lines)
	err = run(ctx, src, lines, "nice", "-n", "19", "make", "O=o", fmt.Sprintf("-j%d", jobs), "bzImage", "modules")
	stop()
	if err != nil {
		return failed("make bzImage modules", err)
	}
	c.saveLines(k.Name, int(lines.n.Load()))

	step("installing: modules_install, image, config")
	if err := run(ctx, src, logf, "make", "O=o", "INSTALL_MOD_PATH="+filepath.Join(tmp, "modules"), "modules_install"); err != nil {
		return failed("make modules_install", err)
	}
	// modules_install links build and source to absolute paths, which
	// would tie the build to this directory: the build tree is Dir/build.
	for _, l := range []string{"build", "source"} {
		_ = os.Remove(filepath.Join(tmp, "modules", "lib", "modules", rel, l))
	}
	o := filepath.Join(src, "o")
	if err := os.WriteFile(filepath.Join(o, "Makefile"), []byte(relocatableMakefile), 0o644); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(o, "Module.symvers")); err != nil {
		return fmt.Errorf("the build left no Module.symvers: %w", err)
	}
	if err := copyFile(filepath.Join(o, "arch", "x86", "boot", "bzImage"), filepath.Join(tmp, "bzImage")); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(o, ".config"), filepath.Join(tmp, "config")); err != nil {
		return err
	}
	return os.Symlink(filepath.Join("linux", "o"), filepath.Join(tmp, "build"))
}

// relocatableMakefile replaces the Makefile kbuild writes in the build
// tree, which names the source by an absolute path on newer kernels (6.1
// wrote "include ../Makefile" for a subdirectory, 7.2 the whole path), so
// that the build directory can be renamed into place, or moved.
const relocatableMakefile = `# Written by cnlab-kernels: the source tree is the directory above.
export KBUILD_OUTPUT = $(CURDIR)
include $(CURDIR)/../Makefile
`

func baseNames(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// lineCounter counts the lines make prints, a measure of its progress.
type lineCounter struct {
	w io.Writer
	n atomic.Int64
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n.Add(int64(bytes.Count(p, []byte("\n"))))
	return l.w.Write(p)
}

// progress prints a line every 30 seconds while make runs: how long it has
// run, how far it is measured against the last build's output, and how long
// the last build took. It returns a function that stops it.
func (c *Cache) progress(name string, lines *lineCounter) func() {
	prev := c.loadLast(name)
	start := time.Now()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			msg := fmt.Sprintf("kernel %s: compiling, %s", name, time.Since(start).Round(time.Second))
			if prev.Lines > 0 {
				msg += fmt.Sprintf(", about %d%%", min(99, 100*int(lines.n.Load())/prev.Lines))
			}
			if prev.Seconds > 0 {
				msg += fmt.Sprintf(" (the last build took %s)", (time.Duration(prev.Seconds) * time.Second).Round(time.Second))
			} else {
				msg += " (no earlier build to compare with)"
			}
			c.printf("%s\n", msg)
		}
	}()
	return func() { close(done); <-stopped }
}
