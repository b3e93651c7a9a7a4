package kernels

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, s string) string {
	if t != nil {
		t.Helper()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		panic(err)
	}
	return path
}

func TestReadConf(t *testing.T) {
	tests := []struct {
		name, conf string
		want       []Kernel // fragments relative to the top
		err        string
	}{
		{name: "debian", conf: "# c\n6.1\t6.1.0-56-amd64\t6.1.192-2\n",
			want: []Kernel{{Name: "6.1", Release: "6.1.0-56-amd64", Version: "6.1.192-2"}}},
		{name: "source", conf: "6.1-debug 6.1.192-cnlab-debug 6.1.192-2 linux-source-6.1 kernels/base.config,kernels/debug.config\n",
			want: []Kernel{{Name: "6.1-debug", Release: "6.1.192-cnlab-debug", Version: "6.1.192-2", Package: "linux-source-6.1",
				Fragments: []string{"kernels/base.config", "kernels/debug.config"}}}},
		{name: "patches", conf: "7.2 7.2.13-cnlab 7.2.13-1 linux-source-7.2 kernels/base.config,kernels/p.patch\n",
			want: []Kernel{{Name: "7.2", Release: "7.2.13-cnlab", Version: "7.2.13-1", Package: "linux-source-7.2",
				Fragments: []string{"kernels/base.config"}, Patches: []string{"kernels/p.patch"}}}},
		{name: "may-fail", conf: "7.3-rc 7.3.0-rc7-cnlab 7.3~rc7-1~exp1 linux-source-7.3 kernels/base.config may-fail\n",
			want: []Kernel{{Name: "7.3-rc", Release: "7.3.0-rc7-cnlab", Version: "7.3~rc7-1~exp1", Package: "linux-source-7.3",
				Fragments: []string{"kernels/base.config"}, MayFail: true}}},
		{name: "short line", conf: "6.1 6.1.0-56-amd64\n", err: "want name, release and version"},
		{name: "not a source package", conf: "x 6.1 6.1 linux-image-6.1 kernels/base.config\n", err: "not a linux-source"},
		{name: "unknown flag", conf: "x 6.1 6.1 linux-source-6.1 kernels/base.config sometimes\n", err: "unknown flag"},
		{name: "named twice", conf: "a 1 1\na 2 2\n", err: "named twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := t.TempDir()
			got, err := ReadConf(write(t, filepath.Join(top, "kernels", "kernels.conf"), tt.conf))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				for j, f := range tt.want[i].Fragments {
					tt.want[i].Fragments[j] = filepath.Join(top, f)
				}
				for j, f := range tt.want[i].Patches {
					tt.want[i].Patches[j] = filepath.Join(top, f)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCheckFragments(t *testing.T) {
	config := "CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_S=\"-x\"\n"
	tests := []struct {
		name, fragment, err string
	}{
		{name: "all there", fragment: "CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_S=\"-x\"\n# comment\n"},
		{name: "off but asked on", fragment: "CONFIG_C=y\n", err: "CONFIG_C=y (f.config: not set)"},
		{name: "absent", fragment: "CONFIG_NOPE=y\n", err: "CONFIG_NOPE=y (f.config: absent"},
		{name: "module not built in", fragment: "CONFIG_B=y\n", err: "CONFIG_B=y (f.config: =m)"},
		{name: "asked off, is on", fragment: "# CONFIG_A is not set\n", err: "CONFIG_A=n"},
		{name: "absent and asked off", fragment: "# CONFIG_GONE is not set\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := write(t, filepath.Join(dir, ".config"), config)
			f := write(t, filepath.Join(dir, "f.config"), tt.fragment)
			err := checkFragments(c, []string{f})
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

// fakeKernel plays the commands a build runs: a source tree whose make
// knows tinyconfig, olddefconfig (dropping the options in lacks), the
// release and the build.
type fakeKernel struct {
	version  string          // make kernelversion
	lacks    map[string]bool // options olddefconfig turns off
	failWith string          // the compile prints this and fails
	madison  string          // apt-cache madison's output
	compiles int
}

func (f *fakeKernel) run(ctx context.Context, dir string, out io.Writer, name string, args ...string) error {
	cmd := strings.Join(append([]string{name}, args...), " ")
	o := filepath.Join(dir, "o")
	switch {
	case name == "dpkg-query":
		return fmt.Errorf("not installed")
	case name == "apt-cache":
		fmt.Fprint(out, f.madison)
	case name == "apt-get":
	case name == "tar", name == "patch":
	case cmd == "make -s kernelversion":
		fmt.Fprintln(out, f.version)
	case cmd == "make O=o tinyconfig":
		return os.MkdirAll(o, 0o755)
	case name == "scripts/kconfig/merge_config.sh":
		var all []byte
		for _, frag := range args[4:] {
			b, err := os.ReadFile(frag)
			if err != nil {
				return err
			}
			all = append(all, b...)
		}
		return os.WriteFile(filepath.Join(o, ".config"), all, 0o644)
	case cmd == "make O=o olddefconfig":
		b, _ := os.ReadFile(filepath.Join(o, ".config"))
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if k, _, _ := strings.Cut(l, "="); !f.lacks[k] {
				keep = append(keep, l)
			}
		}
		return os.WriteFile(filepath.Join(o, ".config"), []byte(strings.Join(keep, "\n")), 0o644)
	case cmd == "make O=o syncconfig":
	case cmd == "make -s O=o kernelrelease":
		vals, _, _ := readConfig(filepath.Join(o, ".config"))
		fmt.Fprintln(out, f.version+strings.Trim(vals["CONFIG_LOCALVERSION"], `"`))
	case name == "nice":
		f.compiles++
		if f.failWith != "" {
			fmt.Fprintln(out, f.failWith)
			return fmt.Errorf("exit status 2")
		}
		write(nil, filepath.Join(o, "arch", "x86", "boot", "bzImage"), "image")
		write(nil, filepath.Join(o, "Module.symvers"), "")
	case strings.HasSuffix(cmd, "modules_install"):
	default:
		return fmt.Errorf("fake kernel: unexpected command %q", cmd)
	}
	return nil
}

func setup(t *testing.T, f *fakeKernel, version string) (*Cache, Kernel) {
	t.Helper()
	top := t.TempDir()
	c := &Cache{Root: filepath.Join(top, "cache"), Sources: write(t, filepath.Join(top, "apt.list"), "deb x y z\n"), run: f.run}
	k := Kernel{Name: "6.1-debug", Release: "6.1.192-cnlab-debug", Version: version, Package: "linux-source-6.1",
		Fragments: []string{write(t, filepath.Join(top, "base.config"), "CONFIG_CONNECTOR=y\nCONFIG_KASAN=y\n")}}
	write(t, filepath.Join(c.Root, "debs", "linux-source-6.1_6.1.192-2.tar.xz"), "")
	return c, k
}

func TestEnsure(t *testing.T) {
	ctx := context.Background()
	t.Run("builds once, then uses the cache", func(t *testing.T) {
		f := &fakeKernel{version: "6.1.192"}
		c, k := setup(t, f, "6.1.192-2")
		b, err := c.Ensure(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(b.KDIR, "Module.symvers")); err != nil {
			t.Errorf("build tree: %v", err)
		}
		if b.Info.Release != k.Release {
			t.Errorf("release %q, want %q", b.Info.Release, k.Release)
		}
		if _, err := c.Ensure(ctx, k); err != nil || f.compiles != 1 {
			t.Errorf("second Ensure: err %v, %d compiles, want 1", err, f.compiles)
		}
		write(t, k.Fragments[0], "CONFIG_CONNECTOR=y\n")
		b2, err := c.Ensure(ctx, k)
		if err != nil || f.compiles != 2 || b2.Dir == b.Dir {
			t.Errorf("after the fragment changed: err %v, %d compiles, dir %s (was %s)", err, f.compiles, b2.Dir, b.Dir)
		}
	})
	t.Run("half-written builds are removed, never used", func(t *testing.T) {
		f := &fakeKernel{version: "6.1.192"}
		c, k := setup(t, f, "6.1.192-2")
		dir, _ := c.Dir(k)
		write(t, filepath.Join(dir+".tmp-999", "linux", "Makefile"), "")
		write(t, filepath.Join(dir, "bzImage"), "stale") // no marker
		b, err := c.Ensure(ctx, k)
		if err != nil || f.compiles != 1 {
			t.Fatalf("err %v, %d compiles, want a build", err, f.compiles)
		}
		if img, _ := os.ReadFile(b.Image); string(img) != "image" {
			t.Errorf("image %q: the stale one was used", img)
		}
		if _, err := os.Stat(dir + ".tmp-999"); !os.IsNotExist(err) {
			t.Errorf("the interrupted build's directory is still there: %v", err)
		}
	})
	bad := []struct {
		name    string
		f       fakeKernel
		version string
		release string
		err     string
	}{
		{name: "an option the kernel lacks", f: fakeKernel{version: "6.1.192", lacks: map[string]bool{"CONFIG_KASAN": true}},
			err: "CONFIG_KASAN=y (base.config: absent"},
		{name: "a failing build", f: fakeKernel{version: "6.1.192", failWith: "drivers/x.c:1:2: error: boom"},
			err: "make bzImage modules failed (exit status 2): drivers/x.c:1:2: error: boom"},
		{name: "a version apt does not have", f: fakeKernel{version: "6.1.192", madison: "linux-source-6.1 | 6.1.176-1 | http://x bookworm/main amd64 Packages\n"},
			version: "6.1.999-1", err: "apt has no linux-source-6.1 at version 6.1.999-1 (it has 6.1.176-1)"},
		{name: "a release the source does not build", f: fakeKernel{version: "6.1.193"},
			err: "does not start with the source's version 6.1.193"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if tt.version == "" {
				tt.version = "6.1.192-2"
			}
			c, k := setup(t, &tt.f, tt.version)
			_, err := c.Ensure(ctx, k)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want one with %q", err, tt.err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error is more than one line: %q", err)
			}
			dir, _ := c.Dir(k)
			if left, _ := filepath.Glob(dir + "*"); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
			if _, ok, _ := c.Lookup(k); ok {
				t.Error("Lookup finds a build")
			}
		})
	}
}
