package vm

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	const rest = "CONFIG_SERIAL_8250_NR_UARTS=32\nCONFIG_SERIAL_8250_RUNTIME_UARTS=4\nCONFIG_EVENTFD=y\n"
	tests := []struct {
		name        string
		config      string
		wantErr     []string
		wantWarning int
	}{
		{"all there", "CONFIG_CONNECTOR=y\nCONFIG_MODULES=y\nCONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\nCONFIG_BLK_DEV_INITRD=y\nCONFIG_DEVTMPFS=y\n" + rest, nil, 0},
		{"connector as a module", "CONFIG_CONNECTOR=m\nCONFIG_MODULES=y\nCONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\nCONFIG_BLK_DEV_INITRD=y\nCONFIG_DEVTMPFS=y\n" + rest, nil, 0},
		{"no connector", "# CONFIG_CONNECTOR is not set\nCONFIG_MODULES=y\nCONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\nCONFIG_BLK_DEV_INITRD=y\nCONFIG_DEVTMPFS=y\n" + rest,
			[]string{"CONFIG_CONNECTOR is not set"}, 0},
		{"one runtime serial port", "CONFIG_CONNECTOR=y\nCONFIG_MODULES=y\nCONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\nCONFIG_BLK_DEV_INITRD=y\nCONFIG_DEVTMPFS=y\nCONFIG_SERIAL_8250_NR_UARTS=1\nCONFIG_SERIAL_8250_RUNTIME_UARTS=1\nCONFIG_EVENTFD=y\n",
			[]string{"CONFIG_SERIAL_8250_NR_UARTS is =1, want at least 2", "CONFIG_SERIAL_8250_RUNTIME_UARTS is =1, want at least 2"}, 0},
		{"serial as a module and no initrd", "CONFIG_CONNECTOR=y\nCONFIG_MODULES=y\nCONFIG_SERIAL_8250=m\nCONFIG_SERIAL_8250_CONSOLE=y\nCONFIG_DEVTMPFS=y\n" + rest,
			[]string{"CONFIG_SERIAL_8250 is =m, want =y", "CONFIG_BLK_DEV_INITRD is not set"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), ".config")
			if err := os.WriteFile(p, []byte(tt.config), 0o644); err != nil {
				t.Fatal(err)
			}
			warnings, err := CheckConfig(p, RequiredConfig)
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not say %q", err, w)
				}
			}
			if len(warnings) != tt.wantWarning {
				t.Errorf("warnings %q, want %d", warnings, tt.wantWarning)
			}
		})
	}
}

// fakeBzImage writes the part of an x86 boot image that ImageRelease reads.
func fakeBzImage(t *testing.T, dir, version string) string {
	t.Helper()
	b := make([]byte, 0x400)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x20e:], 0x100) // version string at 0x300
	copy(b[0x300:], version+" (debian-kernel@lists.debian.org) #1 SMP\x00")
	p := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImageRelease(t *testing.T) {
	dir := t.TempDir()
	got, err := ImageRelease(fakeBzImage(t, dir, "6.1.0-56-amd64"))
	if err != nil || got != "6.1.0-56-amd64" {
		t.Fatalf("ImageRelease = %q, %v", got, err)
	}
	notImage := filepath.Join(dir, "x")
	os.WriteFile(notImage, make([]byte, 0x400), 0o644)
	if _, err := ImageRelease(notImage); err == nil || !strings.Contains(err.Error(), "not an x86 bzImage") {
		t.Fatalf("ImageRelease of a non-image: err = %v", err)
	}
	if _, err := ImageRelease(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "make setup") {
		t.Fatalf("ImageRelease of a missing file: err = %v, want a hint", err)
	}
}
