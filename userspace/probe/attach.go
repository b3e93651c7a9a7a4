package probe

import (
	"fmt"
	"slices"
	"strings"
)

// attachPoint is a program and the function it goes on (fentry or fexit,
// as its section says).
type attachPoint struct {
	prog, what string
	modes      []Mode
	inbound    bool // only with Filter.Inbound
}

// attachPoints are where the probes go, by mode. netlink_broadcast_filtered
// is what the connector calls from 6.6; 6.1 has only netlink_broadcast.
var attachPoints = []attachPoint{
	{prog: "send_enter", what: "fentry cn_netlink_send_mult", modes: []Mode{ModeCounters, ModeLosses, ModeAll}},
	{prog: "send_exit", what: "fexit cn_netlink_send_mult", modes: []Mode{ModeCounters, ModeLosses, ModeAll}},
	{prog: "sendskb", what: "fentry __netlink_sendskb", modes: []Mode{ModeAll}},
	{prog: "overrun", what: "fentry netlink_overrun", modes: []Mode{ModeCounters, ModeLosses, ModeAll}},
	{prog: "filtered", what: "fexit sk_filter_trim_cap", modes: []Mode{ModeLosses}},
	{prog: "bcast_filtered", what: "fexit netlink_broadcast_filtered", modes: []Mode{ModeLosses, ModeAll}},
	{prog: "bcast", what: "fexit netlink_broadcast", modes: []Mode{ModeLosses, ModeAll}},
	{prog: "rx", what: "fentry cn_rx_skb", modes: []Mode{ModeCounters, ModeLosses, ModeAll}, inbound: true},
}

// programsFor is the programs f attaches, by name, with where they go:
// bcast_filtered where the kernel has netlink_broadcast_filtered, else
// bcast.
func programsFor(f Filter, broadcastFiltered bool) map[string]string {
	want := map[string]string{}
	for _, a := range attachPoints {
		if !slices.Contains(a.modes, f.Mode) || (a.inbound && !f.Inbound) {
			continue
		}
		if (a.prog == "bcast_filtered" && !broadcastFiltered) || (a.prog == "bcast" && broadcastFiltered) {
			continue
		}
		want[a.prog] = a.what
	}
	return want
}

// wholeFunctions fails when a function the probes go on has copies that
// callers call instead (clones, from kernelText): what goes through them
// would be missed without a word.
func wholeFunctions(want map[string]string, clones map[string][]string) error {
	var bad []string
	for _, what := range want {
		fn := what[strings.IndexByte(what, ' ')+1:]
		if c := clones[fn]; len(c) > 0 {
			bad = append(bad, fmt.Sprintf("%s: the kernel also has %s, a copy of it that callers call instead, which the probes cannot see (gcc inlined it in part, or specialised it)",
				what, strings.Join(c, ", ")))
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("%w:\n  %s", ErrPartlyInlined, strings.Join(bad, "\n  "))
	}
	return nil
}

// ErrPartlyInlined says a function the probes attach to is called, on some
// paths, through a copy of it they cannot attach to.
var ErrPartlyInlined = fmt.Errorf("a function the probes attach to is partly inlined or cloned in this kernel: they would miss what goes through the copy")
