package vm

import (
	"strings"
	"testing"
)

const kmemleakReport = `unreferenced object 0xffff888004f2c000 (size 64):
  comm "init", pid 1, jiffies 4294892296 (age 21.224s)
  hex dump (first 32 bytes):
    6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b  kkkkkkkkkkkkkkkk
  backtrace:
    [<ffffffff8136f3a6>] kmalloc_trace+0x26/0x90
    [<ffffffffc0202023>] cnlab_init+0x23 [cnlab]
    [<ffffffff810010c4>] do_one_initcall+0x94/0x2e0
unreferenced object 0xffff888004f2d000 (size 32):
  comm "swapper/0", pid 1, jiffies 4294892000 (age 30.0s)
  backtrace:
    [<ffffffff8136f3a6>] kmalloc_trace+0x26/0x90
    [<ffffffff81a00000>] acpi_os_map_iomem+0x10/0x100
`

func TestModuleLeaks(t *testing.T) {
	tests := []struct {
		name, report string
		modules      []string
		want         int
		first        string
	}{
		{name: "one of the module's, one of the kernel's", report: kmemleakReport, modules: []string{"cnlab"}, want: 1,
			first: "unreferenced object 0xffff888004f2c000 (size 64): kmalloc_trace+0x26/0x90 < cnlab_init+0x23 [cnlab] < do_one_initcall+0x94/0x2e0"},
		{name: "another module", report: kmemleakReport, modules: []string{"other"}, want: 0},
		{name: "empty", report: "", modules: []string{"cnlab"}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ModuleLeaks(tt.report, tt.modules)
			if len(got) != tt.want {
				t.Fatalf("%d leaks, want %d: %q", len(got), tt.want, got)
			}
			if tt.want > 0 {
				if s := LeakSummary(got[0]); s != tt.first {
					t.Errorf("summary %q\nwant    %q", s, tt.first)
				}
				if !strings.HasPrefix(got[0], "unreferenced object") {
					t.Errorf("object text %q", got[0])
				}
			}
		})
	}
}
