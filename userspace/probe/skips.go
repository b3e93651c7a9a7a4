package probe

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Skips are what the probes could not record, by cause.
type Skips struct {
	RingBuffer   uint64 // records the ring buffer refused
	TooDeep      uint64 // sends nested deeper than the probes follow
	NoStorage    uint64 // sends whose task found both its slots held by other tasks' sends in progress
	Unattributed uint64 // a socket's delivery or drop matching no send in progress
	CountersFull uint64 // sends and socket events of ids the per-id counters had no room for
	// Recursion is the runs the kernel skipped because the same program
	// already ran on the CPU: a softirq interrupting it or, on a
	// preemptible kernel (PREEMPT_RT), another task preempted inside it.
	Recursion uint64
	// Skipped is Recursion by program, keyed by its attach point
	// ("fexit cn_netlink_send_mult").
	Skipped map[string]uint64
	// UserSpace is not a skip and not in Total: drops at connector sockets
	// while the task had no kernel send in progress, which are a
	// user-space sender's broadcast's, no kernel send's.
	UserSpace uint64
}

// Total is every skip.
func (s Skips) Total() uint64 {
	return s.RingBuffer + s.TooDeep + s.NoStorage + s.Unattributed + s.CountersFull + s.Recursion
}

// Minus is what was skipped since an earlier reading b.
func (s Skips) Minus(b Skips) Skips {
	d := Skips{RingBuffer: s.RingBuffer - b.RingBuffer, TooDeep: s.TooDeep - b.TooDeep,
		NoStorage: s.NoStorage - b.NoStorage, Unattributed: s.Unattributed - b.Unattributed,
		CountersFull: s.CountersFull - b.CountersFull, Recursion: s.Recursion - b.Recursion,
		UserSpace: s.UserSpace - b.UserSpace}
	for what, n := range s.Skipped {
		if n -= b.Skipped[what]; n > 0 {
			if d.Skipped == nil {
				d.Skipped = map[string]uint64{}
			}
			d.Skipped[what] = n
		}
	}
	return d
}

// String lists every cause, and the programs the kernel skipped; then,
// apart, the user-space senders' drops.
func (s Skips) String() string {
	out := fmt.Sprintf("ring buffer %d, too deep %d, no storage %d, unattributed %d, counters full %d, kernel-skipped runs %d",
		s.RingBuffer, s.TooDeep, s.NoStorage, s.Unattributed, s.CountersFull, s.Recursion)
	if len(s.Skipped) > 0 {
		whats := slices.Sorted(maps.Keys(s.Skipped))
		parts := make([]string, len(whats))
		for i, w := range whats {
			parts[i] = fmt.Sprintf("%s %d", w, s.Skipped[w])
		}
		out += " (" + strings.Join(parts, ", ") + ")"
	}
	return out + fmt.Sprintf("; not skips: user-space senders' drops %d", s.UserSpace)
}
