package symbolize

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DebugVmlinux is where Debian's linux-image-<release>-dbg package puts the
// kernel with its debug symbols.
func DebugVmlinux(release string) string {
	return filepath.Join("/usr/lib/debug/boot", "vmlinux-"+release)
}

// Symbolize turns the addresses of a trace into file:line with the kernel's
// own scripts/decode_stacktrace.sh, the kernel's debug symbols and the
// module's build directory. When the symbols are missing it says how to get
// them instead.
//
// kdir is the kernel's build tree: a kernel built from source keeps its
// vmlinux there, which is used before Debian's package.
func Symbolize(trace, release, kdir, decodeScript, moduleDir string) (string, error) {
	vmlinux := DebugVmlinux(release)
	if kdir != "" {
		if _, err := os.Stat(filepath.Join(kdir, "vmlinux")); err == nil {
			vmlinux = filepath.Join(kdir, "vmlinux")
		}
	}
	if _, err := os.Stat(vmlinux); err != nil {
		return "", fmt.Errorf("no debug symbols for %s at %s: install them with apt-get install linux-image-%s-dbg (about 900 MB; Debian's package of the same version as the image), then rerun or decode the trace in the console log with the kernel's scripts/decode_stacktrace.sh", release, vmlinux, release)
	}
	if _, err := os.Stat(decodeScript); err != nil {
		return "", fmt.Errorf("decode_stacktrace.sh: %w (make setup unpacks it from linux-source-6.1)", err)
	}
	cmd := exec.Command("bash", decodeScript, vmlinux, "", moduleDir)
	cmd.Stdin = strings.NewReader(trace)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("decode_stacktrace.sh: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}
