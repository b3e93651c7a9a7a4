package probe

import (
	"strings"
	"syscall"
	"testing"
)

func TestOutcome(t *testing.T) {
	tests := []struct {
		name string
		r    Record
		want string
	}{
		{"unicast delivered", Record{Ret: 84, PortID: 9, Delivered: 1}, string(Delivered)},
		{"broadcast delivered", Record{Ret: 0, Group: 20, Delivered: 2}, string(Delivered)},
		{"broadcast partly dropped", Record{Ret: 0, Group: 20, Delivered: 1, Dropped: 1}, "delivered to 1, dropped at 1 (receive queue full)"},
		{"every listener overran", Record{Ret: -int32(syscall.ESRCH), Group: 20, Dropped: 1}, string(QueueFull)},
		{"nobody listens", Record{Ret: -int32(syscall.ESRCH), Group: 22}, string(NoListener)},
		{"unicast queue full", Record{Ret: -int32(syscall.EAGAIN), PortID: 9, Dropped: 1}, string(QueueFull)},
		{"no such port", Record{Ret: -int32(syscall.ECONNREFUSED), PortID: 9}, string(NoSuchPort)},
		{"out of memory", Record{Ret: -int32(syscall.ENOMEM)}, string(OutOfMemory)},
		{"too big", Record{Ret: -int32(syscall.EMSGSIZE)}, string(TooBig)},
		{"no callback", Record{Ret: -int32(syscall.ENODEV)}, string(NoCallback)},
		{"other", Record{Ret: -int32(syscall.EIO)}, "failed: input/output error"},
		{"ENOBUFS is a listener's, not memory", Record{Ret: -int32(syscall.ENOBUFS), Group: 20, Dropped: 1}, string(ListenerFailed)},
		{"unicast to no queue: the filter", Record{Ret: 52, PortID: 9}, string(Filtered)},
		{"losses: unicast filtered", Record{Ret: 52, PortID: 9, Failed: 1, LossesOnly: true, Receivers: []Receiver{{PortID: 9, Outcome: Filtered}}}, string(Filtered)},
		{"listeners, none took it", Record{Ret: -int32(syscall.ESRCH), Group: 20, BroadcastMissed: true}, string(NoneTook)},
		{"every listener filtered", Record{Ret: -int32(syscall.ESRCH), Group: 20, Failed: 2, BroadcastMissed: true,
			Receivers: []Receiver{{PortID: 1, Outcome: Filtered}, {PortID: 2, Outcome: Filtered}}}, string(Filtered)},
		{"clone failed and overran", Record{Ret: -int32(syscall.ESRCH), Group: 20, Dropped: 1, Failed: 1,
			Receivers: []Receiver{{PortID: 1, Outcome: QueueFull}, {PortID: 2, Outcome: NoClone}}}, "no listener took it: dropped at 1 (receive queue full), not taken at 1 (filter or failed clone)"},
		{"losses: one listener of several overran", Record{Ret: 0, Group: 20, Dropped: 1, LossesOnly: true}, "not delivered everywhere: dropped at 1 (receive queue full)"},
		{"broadcast partly filtered, nothing dropped", Record{Ret: 0, Group: 20, Delivered: 1, Failed: 1}, "delivered to 1, not taken at 1 (filter or failed clone)"},
		{"listeners, none took it, none listed", Record{Ret: -int32(syscall.ESRCH), Group: 20, Failed: 2}, "no listener took it: not taken at 2 (filter or failed clone)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.r.Outcome()); got != tt.want {
				t.Fatalf("Outcome() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRecordString(t *testing.T) {
	r := Record{Group: 20, Ret: -int32(syscall.ESRCH), Dropped: 1, Receivers: []Receiver{{PortID: 77, Outcome: QueueFull, Drops: 3}}}
	s := r.String()
	for _, want := range []string{"group 20", "dropped: receive queue full", "[port 77: dropped: receive queue full, drops 3 before"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
	if !r.DroppedAt(77) || r.DroppedAt(78) {
		t.Error("DroppedAt")
	}
}

func TestDestination(t *testing.T) {
	for _, tt := range []struct {
		r       Record
		want    string
		unicast bool
	}{
		{Record{PortID: 9}, "port 9", true},
		{Record{Group: 20}, "group 20", false},
		// cn_netlink_send_mult with both: a broadcast that skips portid.
		{Record{PortID: 9, Group: 20}, "group 20 except port 9", false},
		// With both 0 the probes resolve the group to the callback's, id.idx.
		{Record{Group: 14, GroupResolved: true}, "group 14", false},
	} {
		if got := tt.r.Destination(); got != tt.want || tt.r.IsUnicast() != tt.unicast {
			t.Errorf("%+v: Destination() = %q, IsUnicast() = %v; want %q, %v", tt.r, got, tt.r.IsUnicast(), tt.want, tt.unicast)
		}
	}
}
