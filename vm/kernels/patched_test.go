package kernels

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// patchFake plays a kernel source that patches apply to: cp copies for
// real, patch fails on a hunk marked FAIL and records what it applied, and
// the compile fails when an applied patch is marked BREAK. The base build
// writes a file the patched builds' compiles leave alone.
type patchFake struct {
	fakeKernel
	applied []string // by the build under way
	patched bool     // the build under way is a patched one
	copies  int      // of a build tree
	lastDir string   // where the last compile ran
}

func (f *patchFake) run(ctx context.Context, dir string, out io.Writer, name string, args ...string) error {
	switch name {
	case "cp":
		if args[0] == "-al" {
			f.applied, f.patched = nil, true
		} else {
			f.copies++
		}
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
		return cmd.Run()
	case "patch":
		p := args[len(args)-1]
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "patching file drivers/connector/connector.c")
		if strings.Contains(string(raw), "FAIL") {
			fmt.Fprintln(out, "Hunk #1 FAILED at 145.")
			fmt.Fprintln(out, "1 out of 1 hunk FAILED -- saving rejects to file drivers/connector/connector.c.rej")
			return fmt.Errorf("exit status 1")
		}
		f.applied = append(f.applied, string(raw))
		return nil
	case "nice":
		f.lastDir = dir
		for _, a := range f.applied {
			if strings.Contains(a, "BREAK") {
				f.compiles++
				fmt.Fprintln(out, "  CC      drivers/connector/connector.o")
				fmt.Fprintln(out, "../include/linux/printk.h:132:2: error: expected expression before '{' token")
				fmt.Fprintln(out, "../drivers/connector/connector.c:145:9: error: expected ';' before 'return'")
				fmt.Fprintln(out, "make[4]: *** [../scripts/Makefile.build:229: drivers/connector/connector.o] Error 1")
				return fmt.Errorf("exit status 2")
			}
		}
		if !f.patched {
			write(nil, filepath.Join(dir, "o", "init", "untouched.o"), "object")
		}
	}
	return f.fakeKernel.run(ctx, dir, out, name, args...)
}

const connectorPatch = `--- a/drivers/connector/connector.c
+++ b/drivers/connector/connector.c
@@ -145,1 +145,1 @@
-	return -EINVAL;
+	return 0;
`

func patchSetup(t *testing.T, f *patchFake) (*Cache, Kernel, string) {
	t.Helper()
	f.version = "6.1.192"
	c, k := setup(t, &f.fakeKernel, "6.1.192-2")
	c.run = f.run
	return c, k, filepath.Dir(c.Root)
}

func TestEnsurePatched(t *testing.T) {
	ctx := context.Background()
	t.Run("builds the series from the base build once, and anew when a patch changes", testPatchedOnceAndAnew)
	refusals := []struct {
		name, patch, err string
		compiles, copies int
	}{
		{name: "a patch that does not apply", patch: connectorPatch + "FAIL\n", compiles: 1, copies: 0,
			err: "kernel 6.1-debug with a.patch,b.patch: b.patch does not apply: drivers/connector/connector.c: Hunk #1 FAILED at 145."},
		{name: "a kernel that does not build", patch: connectorPatch + "BREAK\n", compiles: 2, copies: 1,
			err: "kernel 6.1-debug with a.patch,b.patch: it does not build: ../drivers/connector/connector.c:145:9: error: expected ';' before 'return' (in a file a.patch, b.patch change)"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			f := &patchFake{}
			c, k, top := patchSetup(t, f)
			a := write(t, filepath.Join(top, "a.patch"), connectorPatch)
			b := write(t, filepath.Join(top, "b.patch"), tt.patch)
			_, err := c.EnsurePatched(ctx, k, []string{a, b})
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v\nwant one with %q", err, tt.err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error is more than one line: %q", err)
			}
			if f.compiles != tt.compiles || f.copies != tt.copies {
				t.Errorf("%d compiles and %d copies of the build tree, want %d and %d", f.compiles, f.copies, tt.compiles, tt.copies)
			}
			dir, _ := c.PatchedDir(k, []string{a, b})
			if left, _ := filepath.Glob(dir + "*"); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			if _, err := open(dir); err == nil {
				t.Error("the refused series is in the cache")
			}
			base, ok, _ := c.Lookup(k)
			if !ok {
				t.Fatal("the base build is gone")
			}
			if left, _ := filepath.Glob(base.Dir + ".tmp-*"); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			if _, err := os.Stat(filepath.Join(c.Root, k.Name+"-patched.failed.log")); err != nil {
				t.Errorf("no log of the refused build: %v", err)
			}
			// Fixed, the series builds: nothing of the refusal is reused.
			write(t, b, connectorPatch+"# fixed\n")
			if _, err := c.EnsurePatched(ctx, k, []string{a, b}); err != nil {
				t.Errorf("the fixed series: %v", err)
			}
		})
	}
	t.Run("a kernel not built from source", func(t *testing.T) {
		c, _, top := patchSetup(t, &patchFake{})
		k := Kernel{Name: "6.1", Release: "6.1.0-56-amd64", Version: "6.1.192-2"}
		_, err := c.EnsurePatched(ctx, k, []string{write(t, filepath.Join(top, "a.patch"), connectorPatch)})
		if err == nil || !strings.Contains(err.Error(), "patches need a kernel built from source") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a patch that is not there", func(t *testing.T) {
		f := &patchFake{}
		c, k, top := patchSetup(t, f)
		_, err := c.EnsurePatched(ctx, k, []string{filepath.Join(top, "missing.patch")})
		if err == nil || !strings.Contains(err.Error(), "missing.patch") || f.compiles != 0 {
			t.Fatalf("err = %v, %d compiles", err, f.compiles)
		}
	})
}

// testPatchedOnceAndAnew: the series is built from the base build once,
// and anew when a patch changes.
func testPatchedOnceAndAnew(t *testing.T) {
	ctx := context.Background()
	f := &patchFake{}
	c, k, top := patchSetup(t, f)
	a := write(t, filepath.Join(top, "a.patch"), connectorPatch)
	b := write(t, filepath.Join(top, "b.patch"), connectorPatch+"# b\n")
	pb, err := c.EnsurePatched(ctx, k, []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	base, ok, _ := c.Lookup(k)
	if !ok {
		t.Fatal("the base build is not in the cache")
	}
	if f.compiles != 2 || pb.Dir == base.Dir {
		t.Fatalf("%d compiles (want the base's and the series'), dir %s (base %s)", f.compiles, pb.Dir, base.Dir)
	}
	if fmt.Sprint(pb.Info.Patches) != "[a.patch b.patch]" || pb.Info.Base != filepath.Base(base.Dir) {
		t.Errorf("marker: patches %v, base %q", pb.Info.Patches, pb.Info.Base)
	}
	if want := filepath.Join(base.Info.BuiltIn, "linux"); base.Info.BuiltIn == "" || f.lastDir != want {
		t.Errorf("the series was compiled in %s, want %s, where the base was built", f.lastDir, want)
	}
	if _, err := os.Stat(base.Info.BuiltIn); !os.IsNotExist(err) {
		t.Errorf("where the series was built is still there: %v", err)
	}
	if len(f.applied) != 2 || f.applied[1] != connectorPatch+"# b\n" {
		t.Errorf("applied %q, want a.patch then b.patch", f.applied)
	}
	// What the patched compile left alone is the base's file, linked.
	st1, err1 := os.Stat(filepath.Join(pb.KDIR, "init", "untouched.o"))
	st2, err2 := os.Stat(filepath.Join(base.KDIR, "init", "untouched.o"))
	if err1 != nil || err2 != nil || !os.SameFile(st1, st2) {
		t.Errorf("an unchanged build file is not shared with the base: %v %v", err1, err2)
	}
	if _, err := c.EnsurePatched(ctx, k, []string{a, b}); err != nil || f.compiles != 2 {
		t.Errorf("the same series again: err %v, %d compiles, want the cached build", err, f.compiles)
	}
	if _, err := c.EnsurePatched(ctx, k, []string{b, a}); err != nil || f.compiles != 3 {
		t.Errorf("the series in another order: err %v, %d compiles, want a build", err, f.compiles)
	}
	write(t, b, connectorPatch+"# b, changed\n")
	pb2, err := c.EnsurePatched(ctx, k, []string{a, b})
	if err != nil || f.compiles != 4 || pb2.Dir == pb.Dir {
		t.Fatalf("after b.patch changed: err %v, %d compiles, dir %s (was %s)", err, f.compiles, pb2.Dir, pb.Dir)
	}
	if last := f.applied[len(f.applied)-1]; !strings.Contains(last, "changed") {
		t.Errorf("the stale b.patch was applied: %q", last)
	}
	raw, _ := os.ReadFile(filepath.Join(pb2.Dir, MarkerName))
	var info Info
	if err := json.Unmarshal(raw, &info); err != nil || info.Key == pb.Info.Key {
		t.Errorf("marker key %q (err %v), the old build's %q", info.Key, err, pb.Info.Key)
	}
}

func TestPatchesTouching(t *testing.T) {
	dir := t.TempDir()
	a := write(t, filepath.Join(dir, "a.patch"), "--- a/include/linux/connector.h\n+++ b/include/linux/connector.h\n")
	b := write(t, filepath.Join(dir, "b.patch"), "--- a/drivers/connector/cn_proc.c\t2026-01-01\n+++ b/drivers/connector/cn_proc.c\t2026-01-01\n")
	c := write(t, filepath.Join(dir, "c.patch"), "+++ b/include/linux/connector.h\n")
	for _, tt := range []struct{ line, want string }{
		{"../drivers/connector/cn_proc.c:12:1: error: x", "[b.patch]"},
		{"drivers/connector/cn_proc.c:12:1: error: x", "[b.patch]"},
		{"../include/linux/connector.h:3: error: y", "[a.patch c.patch]"},
		{"../net/netlink/af_netlink.c:1: error: z", "[]"},
		{"make: *** [Makefile:1] Error 2", "[]"},
	} {
		if got := fmt.Sprint(baseNames(patchesTouching([]string{a, b, c}, tt.line))); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestBuiltIn(t *testing.T) {
	dir := t.TempDir()
	b := Build{Dir: filepath.Join(dir, "7.2-x"), KDIR: filepath.Join(dir, "7.2-x", "build")}
	if got := builtIn(b); got != "" {
		t.Errorf("no marker field, no objtool: %q", got)
	}
	write(t, filepath.Join(b.KDIR, "tools", "objtool", ".check.o.cmd"),
		"deps := \\\n /root/.cache/cnlab/kernels/7.2-x.tmp-11060/linux/o/tools/objtool/check.c \\\n")
	if got, want := builtIn(b), "/root/.cache/cnlab/kernels/7.2-x.tmp-11060"; got != want {
		t.Errorf("from objtool's dependencies: %q, want %q", got, want)
	}
	b.Info.BuiltIn = "/elsewhere"
	if got := builtIn(b); got != "/elsewhere" {
		t.Errorf("from the marker: %q", got)
	}
}
