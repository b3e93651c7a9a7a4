package kmemleak

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
		{name: "a backtrace with its crc, as from 6.7", report: strings.Replace(kmemleakReport, "backtrace:", "backtrace (crc 5e1ea57b):", 1),
			modules: []string{"cnlab"}, want: 1,
			first: "unreferenced object 0xffff888004f2c000 (size 64): kmalloc_trace+0x26/0x90 < cnlab_init+0x23 [cnlab] < do_one_initcall+0x94/0x2e0"},
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

func TestConnectorLeaks(t *testing.T) {
	const connector = `unreferenced object 0xffff888006a1e240 (size 96):
  comm "e2e.test", pid 212, jiffies 4294900000 (age 12.0s)
  backtrace (crc 0):
    [<ffffffff8136f3a6>] kmalloc_trace+0x26/0x90
    [<ffffffff81b2c0d1>] cn_queue_alloc_callback_entry+0x31/0x120
    [<ffffffff81b2c4a2>] cn_queue_add_callback+0x22/0x110
    [<ffffffffc0202023>] cnlab_init+0x23 [cnlab]
unreferenced object 0xffff888006a1f000 (size 512):
  comm "e2e.test", pid 230, jiffies 4294900100 (age 11.0s)
  backtrace (crc 0):
    [<ffffffff8136f3a6>] __kmalloc+0x26/0x90
    [<ffffffff81b2d0aa>] proc_fork_connector+0x4a/0x190
    [<ffffffff810a1234>] copy_process+0x1234/0x2000
`
	tests := []struct {
		name, report string
		want         []string
	}{
		{"the core's and cn_proc's", connector, []string{
			"unreferenced object 0xffff888006a1e240 (size 96): kmalloc_trace+0x26/0x90 < cn_queue_alloc_callback_entry+0x31/0x120 < cn_queue_add_callback+0x22/0x110 < cnlab_init+0x23 [cnlab]",
			"unreferenced object 0xffff888006a1f000 (size 512): __kmalloc+0x26/0x90 < proc_fork_connector+0x4a/0x190 < copy_process+0x1234/0x2000"}},
		{"neither: the module's own and ACPI's", kmemleakReport, nil},
		// A target module's leak, allocated in its callback under the
		// core's cn_rx_skb: the module's (ModuleLeaks), not the core's.
		{"a module's leak under cn_rx_skb", `unreferenced object 0xffff888006b00000 (size 64):
  comm "e2e.test", pid 240, jiffies 4294900200 (age 10.0s)
  backtrace (crc 0):
    [<ffffffff8136f3a6>] __kmalloc+0x26/0x90
    [<ffffffffc0210123>] cn_buggy_log+0x23/0x80 [cn_buggy]
    [<ffffffffc0210456>] cn_buggy_cb+0x56/0x190 [cn_buggy]
    [<ffffffff81b2b1a8>] cn_rx_skb+0x1a8/0x2a0
    [<ffffffff81a9c3d2>] netlink_unicast+0x3d2/0x4a0
`, nil},
		{"the kernel's sample module's, named cn_test", `unreferenced object 0xffff888006b01000 (size 32):
  comm "e2e.test", pid 241, jiffies 4294900300 (age 9.0s)
  backtrace:
    [<ffffffff8136f3a6>] kmalloc_trace+0x26/0x90
    [<ffffffffc0220010>] cn_test_callback+0x10/0x40 [cn_test]
    [<ffffffff81b2b1a8>] cn_rx_skb+0x1a8/0x2a0
`, nil},
		{"a name that only contains cn_", "unreferenced object 0x1 (size 8):\n  backtrace:\n    [<ffffffff81000000>] acpi_cn_thing+0x1/0x2\n", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, o := range ConnectorLeaks(tt.report) {
				got = append(got, LeakSummary(o))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("ConnectorLeaks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
