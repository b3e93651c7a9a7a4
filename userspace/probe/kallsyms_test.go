package probe

import (
	"reflect"
	"strings"
	"testing"
)

func TestKernelText(t *testing.T) {
	const syms = `ffffffff81000000 T _stext
ffffffff81a0e1c0 t cn_queue_wrapper
ffffffff81a0e3f0 T cn_netlink_send_mult
ffffffff81a0e690 T cn_netlink_send
ffffffff81b00000 t netlink_overrun
ffffffff81b00100 t netlink_overrun.isra.0
ffffffff81b00200 t __netlink_sendskb.cold
ffffffff81b00300 t __netlink_sendskb
ffffffff81b00400 t do_one_broadcast.part.0
ffffffffc0000000 t cnlab_send	[cnlab]
`
	text, clones, err := kernelText(strings.NewReader(syms), "cn_netlink_send_mult", "netlink_overrun", "__netlink_sendskb", "do_one_broadcast", "absent")
	if err != nil {
		t.Fatal(err)
	}
	wantText := map[string]textRange{
		"cn_netlink_send_mult": {0xffffffff81a0e3f0, 0xffffffff81a0e690},
		"netlink_overrun":      {0xffffffff81b00000, 0xffffffff81b00100},
		"__netlink_sendskb":    {0xffffffff81b00300, 0xffffffff81b00400},
	}
	if !reflect.DeepEqual(text, wantText) {
		t.Errorf("text = %x, want %x", text, wantText)
	}
	// A .cold part is no copy callers call; a .part of a function not in
	// the kernel's text still is one.
	wantClones := map[string][]string{"netlink_overrun": {"netlink_overrun.isra.0"}, "do_one_broadcast": {"do_one_broadcast.part.0"}}
	if !reflect.DeepEqual(clones, wantClones) {
		t.Errorf("clones = %v, want %v", clones, wantClones)
	}
}

func TestKernelTextHidden(t *testing.T) {
	const syms = "0000000000000000 T cn_netlink_send_mult\n0000000000000000 T cn_netlink_send\n"
	_, _, err := kernelText(strings.NewReader(syms), "cn_netlink_send_mult")
	if err == nil || !strings.Contains(err.Error(), "kptr_restrict") {
		t.Fatalf("err = %v, want one naming kptr_restrict", err)
	}
}
