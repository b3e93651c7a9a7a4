package proc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestValuesMatchKernelHeaders compiles a C program against the uapi
// cn_proc.h of every kernel whose headers are installed (make setup
// installs those of kernels/kernels.conf) and compares its values, sizes and
// offsets with the package's: x/sys/unix has none of them.
func TestValuesMatchKernelHeaders(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("gcc is needed to read the kernel's cn_proc.h: %v (install it with make setup)", err)
	}
	dirs, _ := filepath.Glob("/usr/src/linux-headers-*-common/include/uapi")
	if len(dirs) == 0 {
		t.Fatal("no kernel headers under /usr/src/linux-headers-*-common: install them with make setup")
	}
	for _, dir := range dirs {
		t.Run(strings.TrimPrefix(filepath.Dir(filepath.Dir(dir)), "/usr/src/linux-headers-"), func(t *testing.T) {
			hdr, err := os.ReadFile(filepath.Join(dir, "linux/cn_proc.h"))
			if err != nil {
				t.Fatal(err)
			}
			// proc_input and PROC_EVENT_NONZERO_EXIT came in 6.6.
			hasInput := strings.Contains(string(hdr), "struct proc_input")
			want := map[string]uint64{
				"CN_IDX_PROC": IdxProc, "CN_VAL_PROC": ValProc,
				"PROC_CN_MCAST_LISTEN": uint64(OpListen), "PROC_CN_MCAST_IGNORE": uint64(OpIgnore),
				"PROC_EVENT_NONE": uint64(None), "PROC_EVENT_FORK": uint64(Fork), "PROC_EVENT_EXEC": uint64(Exec),
				"PROC_EVENT_UID": uint64(UID), "PROC_EVENT_GID": uint64(GID), "PROC_EVENT_SID": uint64(SID),
				"PROC_EVENT_PTRACE": uint64(Ptrace), "PROC_EVENT_COMM": uint64(Comm),
				"PROC_EVENT_COREDUMP": uint64(Coredump), "PROC_EVENT_EXIT": uint64(Exit),
				"sizeof(struct proc_event)": SizeofEvent, "sizeof(enum proc_cn_mcast_op)": SizeofOp,
				"sizeof(struct cn_msg)":                                       20,
				"offsetof(struct proc_event, event_data)":                     headerLen,
				"offsetof(struct proc_event, event_data.exit.exit_code)":      headerLen + 8,
				"offsetof(struct proc_event, event_data.exit.parent_tgid)":    headerLen + 20,
				"offsetof(struct proc_event, event_data.fork.child_pid)":      headerLen + 8,
				"offsetof(struct proc_event, event_data.comm.comm)":           headerLen + 8,
				"offsetof(struct proc_event, event_data.ptrace.tracer_tgid)":  headerLen + 12,
				"offsetof(struct proc_event, event_data.id.e.euid)":           headerLen + 12,
				"offsetof(struct proc_event, event_data.coredump.parent_pid)": headerLen + 8,
			}
			if hasInput {
				want["PROC_EVENT_NONZERO_EXIT"] = uint64(NonzeroExit)
				want["PROC_EVENT_ALL"] = uint64(All)
				want["sizeof(struct proc_input)"] = SizeofInput
				want["offsetof(struct proc_input, event_type)"] = 4
			}
			var src strings.Builder
			src.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include <linux/connector.h>\n#include <linux/cn_proc.h>\nint main(void) {\n")
			for expr := range want {
				fmt.Fprintf(&src, "\tprintf(\"%%s=%%llu\\n\", %q, (unsigned long long)(%s));\n", expr, expr)
			}
			src.WriteString("\treturn 0;\n}\n")
			// Only the two headers are taken from the kernel's tree: its
			// raw uapi linux/stddef.h wants kernel-internal headers that
			// headers_install strips, so the rest comes from libc's.
			tmp := t.TempDir()
			if err := os.Mkdir(filepath.Join(tmp, "linux"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"cn_proc.h", "connector.h"} {
				b, err := os.ReadFile(filepath.Join(dir, "linux", h))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(tmp, "linux", h), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(tmp, "v.c"), []byte(src.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("gcc", "-I", tmp, "-o", filepath.Join(tmp, "v"), filepath.Join(tmp, "v.c")).CombinedOutput()
			if err != nil {
				t.Fatalf("gcc: %v\n%s", err, out)
			}
			out, err = exec.Command(filepath.Join(tmp, "v")).Output()
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				expr, val, _ := strings.Cut(line, "=")
				if got := fmt.Sprint(want[expr]); got != val {
					t.Errorf("%s: the header says %s, the package %s", expr, val, got)
				}
			}
		})
	}
}
