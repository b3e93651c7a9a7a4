package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitramfsListsWithCpio checks the archive against GNU cpio, an
// independent reader of the newc format, when it is installed.
func TestInitramfsListsWithCpio(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Fatalf("cpio is needed to check the archive: %v (install it with make setup)", err)
	}
	dir := t.TempDir()
	host := filepath.Join(dir, "hello")
	if err := os.WriteFile(host, []byte("hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var r Initramfs
	r.Add(File{Path: "/dev/console", Mode: os.ModeDevice | os.ModeCharDevice | 0o600, Major: 5, Minor: 1})
	if err := r.AddHostFile("/bin/hello", host); err != nil {
		t.Fatal(err)
	}
	r.Add(File{Path: "/cnlab/job.json", Data: []byte("{}"), Mode: 0o644})
	img := filepath.Join(dir, "initramfs.gz")
	if err := r.WriteFile(img); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", "gzip -dc "+img+" | cpio -itv --quiet").CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v\n%s", err, out)
	}
	list := string(out)
	for _, want := range []string{"crw------- ", " 5,   1 ", "dev/console", "drwxr-xr-x", "bin\n", "-rwxr-xr-x", "bin/hello", "cnlab/job.json"} {
		if !strings.Contains(list, want) {
			t.Errorf("cpio -tv output lacks %q:\n%s", want, list)
		}
	}
	// Parents come first.
	if strings.Index(list, "bin\n") > strings.Index(list, "bin/hello") {
		t.Errorf("bin/hello listed before bin:\n%s", list)
	}
	ext := filepath.Join(dir, "x")
	os.Mkdir(ext, 0o755)
	cmd := exec.Command("sh", "-c", "gzip -dc "+img+" | cpio -id --quiet bin/hello")
	cmd.Dir = ext
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(ext, "bin/hello")); string(b) != "hello\n" {
		t.Fatalf("extracted bin/hello = %q", b)
	}
}
