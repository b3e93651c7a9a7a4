package tail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"empty", "", 3, ""},
		{"fewer lines than n", "a\nb", 3, "a\nb"},
		{"exactly n", "a\nb\nc", 3, "a\nb\nc"},
		{"more lines than n", "a\nb\nc\nd", 2, "c\nd"},
		{"trailing newline dropped", "a\nb\nc\n", 2, "b\nc"},
		{"trailing newlines dropped", "a\nb\n\n\n", 1, "b"},
		{"blank lines inside kept", "a\n\nb", 2, "\nb"},
		{"one line", "only", 1, "only"},
		{"n zero", "a\nb", 0, ""},
		{"n negative", "a\nb", -1, ""},
		{"carriage returns kept", "a\r\nb\r\n", 1, "b\r"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Lines(tc.s, tc.n); got != tc.want {
				t.Errorf("Lines(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
		})
	}
}

func TestFile(t *testing.T) {
	console := filepath.Join(t.TempDir(), "console.log")
	if err := os.WriteFile(console, []byte("boot\r\nmodule loaded\r\npanic\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{"last lines without carriage returns", 2, "module loaded\npanic"},
		{"whole file", 10, "boot\nmodule loaded\npanic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := File(console, tc.n); got != tc.want {
				t.Errorf("File(console, %d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}

func TestFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.log")
	got := File(path, 2)
	if want := "(cannot read " + path + ": "; !strings.HasPrefix(got, want) {
		t.Errorf("File(%q, 2) = %q, want it to begin %q", path, got, want)
	}
}
