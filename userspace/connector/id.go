package connector

import (
	"fmt"
	"strconv"
	"strings"
)

// ID is a connector callback id, struct cb_id.
type ID struct {
	Idx uint32
	Val uint32
}

// String formats the id as idx:val, with val in hex as the kernel's samples
// write it (14:0x456).
func (id ID) String() string {
	return fmt.Sprintf("%d:%#x", id.Idx, id.Val)
}

// ParseID parses "idx:val"; each number may be decimal or 0x-prefixed hex.
func ParseID(s string) (ID, error) {
	idx, val, ok := strings.Cut(s, ":")
	if !ok {
		return ID{}, fmt.Errorf("parse id %q: want idx:val, as in 14:0x456", s)
	}
	i, err := strconv.ParseUint(strings.TrimSpace(idx), 0, 32)
	if err != nil {
		return ID{}, fmt.Errorf("parse id %q: idx: %w", s, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(val), 0, 32)
	if err != nil {
		return ID{}, fmt.Errorf("parse id %q: val: %w", s, err)
	}
	return ID{Idx: uint32(i), Val: uint32(v)}, nil
}
