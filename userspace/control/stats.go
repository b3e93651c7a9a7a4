package control

import (
	"syscall"

	"github.com/cnlab/cnlab/userspace/wire"
)

// Stats are the module's counters, the result of the stats operation:
// struct cnlab_stats of kmod/cnlab_wire.h, field for field, with Go names.
// TestStatsMatchesWire fails when the two drift.
type Stats struct {
	// Received counts every message delivered to the echo callback,
	// valid or not; Replied its replies; Invalid the malformed ones.
	Received, Replied, Invalid uint64
	// CtlReceived counts requests to the control id; CtlInvalid those
	// malformed (too short, unknown op, reserved not zero, arguments of
	// the wrong size); CtlRefused those refused for want of
	// CAP_NET_ADMIN.
	CtlReceived, CtlInvalid, CtlRefused uint64
	// ExtraReceived and ExtraInvalid are Received and Invalid for the
	// further ids, all slots together (Extra has them per slot).
	ExtraReceived, ExtraInvalid uint64
	// TimerTicks counts the timer's broadcasts, Notifications the
	// notifications of ids registered or unregistered.
	TimerTicks, Notifications uint64
	// Allocs and Frees count the module's own allocations, equal once
	// the module is idle.
	Allocs, Frees uint64
	// Held counts waits in the hold_at test hook.
	Held uint64
	// LatePending and LateBytes are the late replies waiting now and the
	// memory they hold, LateBytesMax the most they ever held;
	// LateDropped counts late replies not sent because their requester
	// had closed its socket.
	LatePending, LateBytes, LateBytesMax, LateDropped uint64
	// SendErrors[e] counts sends that failed with -e (allocations that
	// failed as ENOMEM); the last slot takes any errno above
	// wire.ErrnoMax. SendErrors lists the nonzero ones.
	SendErrors [wire.ErrnoSlots]uint64
	// Dests[0] is what the unicasts returned, Dests[g] group g's sends.
	Dests [wire.Groups + 1]DestStats
	// Extra are the further ids' slots.
	Extra [wire.MaxExtraIDs]ExtraStats
}

// DestStats is what the sends to one destination returned; see struct
// cnlab_dest_stats.
type DestStats = wire.DestStats

// ExtraStats is one further id's slot; see struct cnlab_extra_stats.
type ExtraStats = wire.ExtraStats

// ErrnoCount is how many sends failed with one errno.
type ErrnoCount struct {
	Errno syscall.Errno
	Count uint64
}

// SendErrors returns the nonzero per-errno send error counts, by errno.
func SendErrors(st *Stats) []ErrnoCount {
	var out []ErrnoCount
	for e, n := range st.SendErrors {
		if n != 0 {
			out = append(out, ErrnoCount{syscall.Errno(e), n})
		}
	}
	return out
}
