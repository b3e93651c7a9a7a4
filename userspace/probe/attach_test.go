package probe

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestProgramsFor(t *testing.T) {
	tests := []struct {
		name              string
		f                 Filter
		broadcastFiltered bool
		want              []string
	}{
		{"counters", Filter{}, true, []string{"overrun", "send_enter", "send_exit"}},
		{"counters with inbound", Filter{Inbound: true}, true, []string{"overrun", "rx", "send_enter", "send_exit"}},
		{"losses on 6.12", Filter{Mode: ModeLosses}, true, []string{"bcast_filtered", "filtered", "overrun", "send_enter", "send_exit"}},
		{"losses on 6.1", Filter{Mode: ModeLosses}, false, []string{"bcast", "filtered", "overrun", "send_enter", "send_exit"}},
		{"all with inbound", Filter{Mode: ModeAll, Inbound: true}, true, []string{"bcast_filtered", "overrun", "rx", "send_enter", "send_exit", "sendskb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for name := range programsFor(tt.f, tt.broadcastFiltered) {
				got = append(got, name)
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("programsFor = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWholeFunctions(t *testing.T) {
	want := programsFor(Filter{Mode: ModeAll}, true)
	if err := wholeFunctions(want, map[string][]string{"do_one_broadcast": {"do_one_broadcast.part.0"}}); err != nil {
		t.Errorf("a clone of a function the probes do not attach to: %v", err)
	}
	err := wholeFunctions(want, map[string][]string{"netlink_overrun": {"netlink_overrun.isra.0"}})
	if !errors.Is(err, ErrPartlyInlined) || !strings.Contains(err.Error(), "fentry netlink_overrun: the kernel also has netlink_overrun.isra.0") {
		t.Errorf("err = %v, want ErrPartlyInlined naming netlink_overrun and its copy", err)
	}
}
