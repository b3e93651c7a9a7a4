package kernels

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSourceTarball makes a linux-source-9.9 tarball holding files, with
// tar and xz for real, and returns its path.
func fakeSourceTarball(t *testing.T, files map[string]string) string {
	t.Helper()
	top := t.TempDir()
	for f, body := range files {
		write(t, filepath.Join(top, "linux-source-9.9", f), body)
	}
	tarball := filepath.Join(t.TempDir(), "linux-source-9.9.tar.xz")
	if out, err := exec.Command("tar", "-cJf", tarball, "-C", top, "linux-source-9.9").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	return tarball
}

func TestSourceFiles(t *testing.T) {
	ctx := context.Background()
	files := map[string]string{"samples/connector/cn_test.c": "cn_test 9.9", "samples/connector/ucon.c": "ucon"}
	tarball := fakeSourceTarball(t, files)
	b, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"samples/connector/cn_test.c"}

	t.Run("from the cached tarball, then from the extracted files", func(t *testing.T) {
		c := &Cache{Root: t.TempDir()}
		cached := write(t, filepath.Join(c.Root, "debs", "linux-source-9.9_9.9.1-1.tar.xz"), string(b))
		dir, err := c.SourceFiles(ctx, "linux-source-9.9", "9.9.1-1", want, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, want[0])); string(got) != "cn_test 9.9" {
			t.Errorf("%s holds %q", want[0], got)
		}
		if _, err := os.Stat(filepath.Join(dir, "samples/connector/ucon.c")); err == nil {
			t.Errorf("extracted a file nobody asked for")
		}
		if err := os.Remove(cached); err != nil {
			t.Fatal(err)
		}
		if again, err := c.SourceFiles(ctx, "linux-source-9.9", "9.9.1-1", want, nil); err != nil || again != dir {
			t.Errorf("second call = %s, %v; want %s from what was extracted, without the tarball", again, err, dir)
		}
	})
	t.Run("from make setup's .deb", func(t *testing.T) {
		if _, err := exec.LookPath("dpkg-deb"); err != nil {
			t.Skip("no dpkg-deb")
		}
		pkg := t.TempDir()
		write(t, filepath.Join(pkg, "usr", "src", "linux-source-9.9.tar.xz"), string(b))
		write(t, filepath.Join(pkg, "DEBIAN", "control"), "Package: linux-source-9.9\nVersion: 9.9.1-1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n")
		debs := t.TempDir()
		if out, err := exec.Command("dpkg-deb", "--build", "--root-owner-group", pkg, filepath.Join(debs, "linux-source-9.9_9.9.1-1_all.deb")).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb --build: %v: %s", err, out)
		}
		c := &Cache{Root: t.TempDir(), LocalDebs: debs}
		dir, err := c.SourceFiles(ctx, "linux-source-9.9", "9.9.1-1", want, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, want[0])); string(got) != "cn_test 9.9" {
			t.Errorf("%s holds %q", want[0], got)
		}
	})
	t.Run("a file the tree does not have", func(t *testing.T) {
		c := &Cache{Root: t.TempDir()}
		write(t, filepath.Join(c.Root, "debs", "linux-source-9.9_9.9.1-1.tar.xz"), string(b))
		_, err := c.SourceFiles(ctx, "linux-source-9.9", "9.9.1-1", []string{"samples/connector/nothere.c"}, nil)
		if err == nil || !strings.Contains(err.Error(), "is it in the kernel's tree at this version?") {
			t.Errorf("err = %v, want it to say the file is not in the tree", err)
		}
	})
	t.Run("no tarball and no apt sources", func(t *testing.T) {
		c := &Cache{Root: t.TempDir()}
		_, err := c.SourceFiles(ctx, "linux-source-9.9", "9.9.1-1", want, nil)
		if err == nil || !strings.Contains(err.Error(), "linux-source-9.9=9.9.1-1 is not installed") {
			t.Errorf("err = %v, want it to say the package is not there", err)
		}
	})
	t.Run("not a source package", func(t *testing.T) {
		c := &Cache{Root: t.TempDir()}
		if _, err := c.SourceFiles(ctx, "linux-image-9.9", "1", want, nil); err == nil {
			t.Error("took linux-image-9.9 for a source package")
		}
	})
}
