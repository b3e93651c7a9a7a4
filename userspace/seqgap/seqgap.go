package seqgap

import "fmt"

// Range is the seqs First to Last, both included.
type Range struct {
	First, Last uint32
}

// Len is the number of seqs in r.
func (r Range) Len() uint64 { return uint64(r.Last-r.First) + 1 }

func (r Range) String() string {
	if r.First == r.Last {
		return fmt.Sprint(r.First)
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Verdict is what one received seq says about its stream.
type Verdict int

// Verdicts.
const (
	First     Verdict = iota // the first seq seen on the stream
	InOrder                  // the next seq, as expected
	Gap                      // seqs were skipped: Observe returns them
	Backwards                // a seq at or below one seen before: a duplicate, or the sender restarted
)

func (v Verdict) String() string {
	return [...]string{"first", "in order", "gap", "backwards"}[v]
}

// Tracker follows the seqs of any number of streams, each named by a key
// the caller chooses. The zero value is ready.
type Tracker[K comparable] struct {
	next map[K]uint32
}

// Observe records seq on stream k and says how it follows what came before;
// for a Gap it returns the seqs that were skipped.
func (t *Tracker[K]) Observe(k K, seq uint32) (Verdict, Range) {
	if t.next == nil {
		t.next = map[K]uint32{}
	}
	want, seen := t.next[k]
	t.next[k] = seq + 1
	switch {
	case !seen:
		return First, Range{}
	case seq == want:
		return InOrder, Range{}
	case int32(seq-want) > 0: // modulo 2^32: seqs wrap
		return Gap, Range{First: want, Last: seq - 1}
	default:
		return Backwards, Range{}
	}
}

// Missing returns the seqs of want (a range a sender says it used) that are
// not in got, as ranges in order.
func Missing(want Range, got []uint32) []Range {
	have := make(map[uint32]bool, len(got))
	for _, s := range got {
		have[s] = true
	}
	var out []Range
	for i := uint64(0); i < want.Len(); i++ {
		s := want.First + uint32(i)
		if have[s] {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Last+1 == s {
			out[n-1].Last = s
		} else {
			out = append(out, Range{s, s})
		}
	}
	return out
}
