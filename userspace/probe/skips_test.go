package probe

import "testing"

func TestSkipsMinus(t *testing.T) {
	tests := []struct {
		name        string
		now, before Skips
		want        string
	}{
		{"nothing skipped", Skips{}, Skips{},
			"ring buffer 0, too deep 0, no storage 0, unattributed 0, counters full 0, kernel-skipped runs 0; not skips: user-space senders' drops 0"},
		{"each cause its own difference",
			Skips{RingBuffer: 5, TooDeep: 6, NoStorage: 307, Unattributed: 9, CountersFull: 3, Recursion: 10},
			Skips{RingBuffer: 1, TooDeep: 2, NoStorage: 7, Unattributed: 4, CountersFull: 1, Recursion: 5},
			"ring buffer 4, too deep 4, no storage 300, unattributed 5, counters full 2, kernel-skipped runs 5; not skips: user-space senders' drops 0"},
		{"user-space drops apart, not in the total",
			Skips{Unattributed: 2, UserSpace: 30}, Skips{Unattributed: 1, UserSpace: 10},
			"ring buffer 0, too deep 0, no storage 0, unattributed 1, counters full 0, kernel-skipped runs 0; not skips: user-space senders' drops 20"},
		{"programs skipped since, only those",
			Skips{Recursion: 12, Skipped: map[string]uint64{"fexit cn_netlink_send_mult": 9, "fentry __netlink_sendskb": 3}},
			Skips{Recursion: 5, Skipped: map[string]uint64{"fexit cn_netlink_send_mult": 2, "fentry __netlink_sendskb": 3}},
			"ring buffer 0, too deep 0, no storage 0, unattributed 0, counters full 0, kernel-skipped runs 7 (fexit cn_netlink_send_mult 7); not skips: user-space senders' drops 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.now.Minus(tt.before)
			if got := d.String(); got != tt.want {
				t.Errorf("(%+v).Minus(%+v) = %q, want %q", tt.now, tt.before, got, tt.want)
			}
			if d.Total() != tt.now.Total()-tt.before.Total() {
				t.Errorf("Total of the difference %d, want %d", d.Total(), tt.now.Total()-tt.before.Total())
			}
		})
	}
}
