package probe

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cnlab/cnlab/userspace/connector"
)

// Filter says what the probes record, and which sends; the per-id
// counters see every send whatever the filter. Zero fields match anything.
type Filter struct {
	// Mode: ModeCounters (the zero value), ModeLosses or ModeAll.
	Mode Mode
	// Inbound: also count (Counters.Inbound) what user space sends to the
	// kernel (cn_rx_skb), in every mode, and record it in modes
	// ModeLosses and ModeAll.
	Inbound bool
	ID      *connector.ID
	// PortID: sends to this port (a unicast), sends a record lists at this
	// port (a broadcast's listener that got it, or lost it), and messages
	// from it.
	PortID uint32
	Group  uint32    // broadcasts to this group
	Seqs   *SeqRange // seqs in this range
}

// SeqRange is the seqs from Lo to Hi, both included.
type SeqRange struct{ Lo, Hi uint32 }

// ParseSeqRange parses "lo-hi" (both included) or a single seq.
func ParseSeqRange(s string) (SeqRange, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		hi = lo
	}
	l, err := strconv.ParseUint(lo, 0, 32)
	if err != nil {
		return SeqRange{}, fmt.Errorf("seq range %q: want lo-hi, as 0-99, or one seq: %w", s, err)
	}
	h, err := strconv.ParseUint(hi, 0, 32)
	if err != nil {
		return SeqRange{}, fmt.Errorf("seq range %q: want lo-hi, as 0-99, or one seq: %w", s, err)
	}
	r := SeqRange{uint32(l), uint32(h)}
	return r, r.check()
}

func (r SeqRange) check() error {
	if r.Lo > r.Hi {
		return fmt.Errorf("seq range %d-%d: lo above hi matches nothing", r.Lo, r.Hi)
	}
	return nil
}

// filterVars are the BPF program's constants for a filter.
type filterVars struct {
	mode                        Mode
	id, idx, val, portid, group uint32
	seq, seqLo, seqHi           uint32
}

// vars checks f and returns the constants it sets in the BPF program.
func (f Filter) vars() (filterVars, error) {
	v := filterVars{mode: f.Mode, portid: f.PortID, group: f.Group}
	switch f.Mode {
	case ModeCounters, ModeLosses, ModeAll:
	default:
		return v, fmt.Errorf("unknown mode %v", f.Mode)
	}
	if f.ID != nil {
		v.id, v.idx, v.val = 1, f.ID.Idx, f.ID.Val
	}
	if f.Seqs != nil {
		if err := f.Seqs.check(); err != nil {
			return v, err
		}
		v.seq, v.seqLo, v.seqHi = 1, f.Seqs.Lo, f.Seqs.Hi
	}
	return v, nil
}
