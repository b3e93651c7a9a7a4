package vm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ImageRelease reads the release (uname -r) of an x86 bzImage from its
// setup header's kernel_version field, without booting it.
func ImageRelease(image string) (string, error) {
	f, err := os.Open(image)
	if err != nil {
		return "", fmt.Errorf("read kernel image: %w (install it with make setup, or pass -kernel)", err)
	}
	defer f.Close()
	hdr := make([]byte, 0x210)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return "", fmt.Errorf("read kernel image %s: %w", image, err)
	}
	if string(hdr[0x202:0x206]) != "HdrS" {
		return "", fmt.Errorf("kernel image %s is not an x86 bzImage (no HdrS setup header)", image)
	}
	off := int64(binary.LittleEndian.Uint16(hdr[0x20e:])) + 0x200
	buf := make([]byte, 256)
	n, err := f.ReadAt(buf, off)
	if n == 0 {
		return "", fmt.Errorf("kernel image %s: read version string: %w", image, err)
	}
	v := buf[:n]
	if i := bytes.IndexAny(v, " \x00"); i >= 0 {
		v = v[:i]
	}
	if len(v) == 0 {
		return "", fmt.Errorf("kernel image %s: empty version string", image)
	}
	return string(v), nil
}

// TreeRelease reads the release a prepared kernel build tree (KDIR) builds
// modules for.
func TreeRelease(kdir string) (string, error) {
	// Modules carry UTS_RELEASE in their vermagic, which is what the
	// kernel checks; Debian's include/config/kernel.release differs from it.
	p := filepath.Join(kdir, "include/generated/utsrelease.h")
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("kernel build tree %s: %w (install the headers with make setup, or run make modules_prepare in your tree)", kdir, err)
	}
	_, rel, ok := strings.Cut(string(b), "UTS_RELEASE \"")
	rel, _, ok2 := strings.Cut(rel, "\"")
	if !ok || !ok2 || rel == "" {
		return "", fmt.Errorf("kernel build tree %s: no UTS_RELEASE in %s", kdir, p)
	}
	return rel, nil
}

// ConfigOption is a kernel config option the suites depend on.
type ConfigOption struct {
	Name string
	// Required options stop a run before booting; others only make some
	// specs skip, and are reported.
	Required bool
	// BuiltIn options must be =y; others may be modules (=m), which the
	// runner loads from the kernel's modules directory.
	BuiltIn bool
	// Min, if set, makes this a number that must be at least Min.
	Min int
	Why string
}

// RequiredConfig lists what cnlab's module and suites need of a kernel.
var RequiredConfig = []ConfigOption{
	{Name: "CONFIG_CONNECTOR", Required: true, Why: "the connector itself"},
	{Name: "CONFIG_MODULES", Required: true, BuiltIn: true, Why: "loading the cnlab module"},
	{Name: "CONFIG_SERIAL_8250", Required: true, BuiltIn: true, Why: "the console and the results port, which exist before any module loads"},
	{Name: "CONFIG_SERIAL_8250_CONSOLE", Required: true, BuiltIn: true, Why: "the kernel console on ttyS0"},
	{Name: "CONFIG_BLK_DEV_INITRD", Required: true, BuiltIn: true, Why: "booting cnlab's initramfs"},
	{Name: "CONFIG_SERIAL_8250_NR_UARTS", Required: true, Min: 2, Why: "two serial ports: the console on ttyS0 and the results on ttyS1"},
	{Name: "CONFIG_SERIAL_8250_RUNTIME_UARTS", Required: true, Min: 2, Why: "two serial ports registered at boot: the console on ttyS0 and the results on ttyS1"},
	{Name: "CONFIG_DEVTMPFS", Required: true, BuiltIn: true, Why: "device nodes in the guest"},
	{Name: "CONFIG_EVENTFD", Required: true, BuiltIn: true, Why: "the Go runtime of the guest's /init, which dies without it"},
}

// ProbesConfig lists what the eBPF probes need, for a job that attaches
// them: the suites (their witness), -trace and -bundle.
var ProbesConfig = []ConfigOption{
	{Name: "CONFIG_BPF_SYSCALL", Required: true, BuiltIn: true, Why: "loading the probes"},
	{Name: "CONFIG_DEBUG_INFO_BTF", Required: true, BuiltIn: true, Why: "the probes' CO-RE relocations and fentry"},
	{Name: "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS", Required: true, BuiltIn: true, Why: "fentry/fexit programs"},
}

// CheckConfig reads a kernel .config and returns an error naming every
// required option that is missing, and a warning line for every optional one.
func CheckConfig(configPath string, opts []ConfigOption) (warnings []string, err error) {
	f, err := os.Open(configPath)
	if err != nil {
		return nil, fmt.Errorf("kernel config: %w", err)
	}
	defer f.Close()
	set := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "CONFIG_") {
			set[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kernel config %s: %w", configPath, err)
	}
	var missing []string
	for _, o := range opts {
		v := set[o.Name]
		if o.Min > 0 {
			n, err := strconv.Atoi(v)
			if err == nil && n >= o.Min {
				continue
			}
			state := "not set"
			if v != "" {
				state = "=" + v
			}
			line := fmt.Sprintf("%s is %s, want at least %d: needed for %s", o.Name, state, o.Min, o.Why)
			if o.Required {
				missing = append(missing, line)
			} else {
				warnings = append(warnings, line+" (some specs will skip)")
			}
			continue
		}
		if v == "y" || (v == "m" && !o.BuiltIn) {
			continue
		}
		state := "not set"
		if v != "" {
			state = "=" + v
		}
		want := "=y or =m"
		if o.BuiltIn {
			want = "=y"
		}
		line := fmt.Sprintf("%s is %s, want %s: needed for %s", o.Name, state, want, o.Why)
		if o.Required {
			missing = append(missing, line)
		} else {
			warnings = append(warnings, line+" (some specs will skip)")
		}
	}
	if len(missing) > 0 {
		return warnings, fmt.Errorf("kernel config %s lacks what cnlab needs:\n  %s", configPath, strings.Join(missing, "\n  "))
	}
	return warnings, nil
}
