package main

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeKernel makes a kernel image and a build tree for release, with the
// given config, enough for the checks made before booting.
func fakeKernel(t *testing.T, release, config string) (image, kdir string) {
	t.Helper()
	dir := t.TempDir()
	b := make([]byte, 0x400)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x20e:], 0x100)
	copy(b[0x300:], release+" #1 SMP\x00")
	image = filepath.Join(dir, "vmlinuz")
	kdir = filepath.Join(dir, "build")
	must(t, os.WriteFile(image, b, 0o644))
	must(t, os.MkdirAll(filepath.Join(kdir, "include/generated"), 0o755))
	must(t, os.WriteFile(filepath.Join(kdir, "include/generated/utsrelease.h"), []byte(`#define UTS_RELEASE "`+release+`"`+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(kdir, ".config"), []byte(config), 0o644))
	return image, kdir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const goodConfig = "CONFIG_CONNECTOR=y\nCONFIG_MODULES=y\nCONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\nCONFIG_BLK_DEV_INITRD=y\nCONFIG_DEVTMPFS=y\n"

// TestRefusesBeforeBooting checks that a kernel the suites cannot run on is
// refused before anything is built or booted, with a message that names
// what is wrong. The QEMU binary given does not exist: reaching it would
// fail differently.
func TestRefusesBeforeBooting(t *testing.T) {
	tests := []struct {
		name    string
		release string
		tree    string
		config  string
		want    []string
	}{
		{"no connector", "6.9.0-test", "6.9.0-test", strings.Replace(goodConfig, "CONFIG_CONNECTOR=y\n", "# CONFIG_CONNECTOR is not set\n", 1),
			[]string{"CONFIG_CONNECTOR is not set", "nothing was booted"}},
		{"serial console a module", "6.9.0-test", "6.9.0-test", strings.Replace(goodConfig, "CONFIG_SERIAL_8250=y", "CONFIG_SERIAL_8250=m", 1),
			[]string{"CONFIG_SERIAL_8250 is =m, want =y"}},
		{"build tree for another release", "6.9.0-test", "6.9.1-test", goodConfig,
			[]string{"builds modules for 6.9.1-test", "-kdir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			image, _ := fakeKernel(t, tt.release, tt.config)
			_, kdir := fakeKernel(t, tt.tree, tt.config)
			o := &options{kernel: image, kdir: kdir, src: t.TempDir(), qemu: "/nonexistent/qemu", accel: "tcg"}
			code, err := run(context.Background(), o)
			if code != exitInfra || err == nil {
				t.Fatalf("run = %d, %v; want exit %d and an error", code, err, exitInfra)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestInstructionClock(t *testing.T) {
	tests := []struct {
		icount  string
		bench   bool
		accel   string
		want    bool
		wantErr string
	}{
		{"auto", true, "tcg", true, ""},
		{"auto", false, "tcg", false, ""},
		{"auto", true, "kvm", false, ""},
		{"", true, "tcg", true, ""},
		{"on", false, "tcg", true, ""},
		{"on", false, "kvm", false, "needs TCG"},
		{"off", true, "tcg", false, ""},
		{"sometimes", true, "tcg", false, "want on, off or auto"},
	}
	for _, tt := range tests {
		t.Run(tt.icount+"/"+tt.accel, func(t *testing.T) {
			got, err := instructionClock(&options{icount: tt.icount, bench: tt.bench}, tt.accel)
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("instructionClock(-icount %q, bench %v, %s) = %v, %v; want %v, error with %q", tt.icount, tt.bench, tt.accel, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
