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
	for _, want := range []string{"group 20", "dropped: receive queue full", "[port 77: dropped: receive queue full, drops 3]"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
	if !r.DroppedAt(77) || r.DroppedAt(78) {
		t.Error("DroppedAt")
	}
}
