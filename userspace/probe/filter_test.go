package probe

import (
	"strings"
	"testing"

	"github.com/cnlab/cnlab/userspace/connector"
)

func TestParseSeqRange(t *testing.T) {
	tests := []struct {
		in      string
		want    SeqRange
		wantErr string
	}{
		{"0-99", SeqRange{0, 99}, ""},
		{"0-0", SeqRange{0, 0}, ""},
		{"7", SeqRange{7, 7}, ""},
		{"4294967295-4294967295", SeqRange{1<<32 - 1, 1<<32 - 1}, ""},
		{"9-3", SeqRange{}, "lo above hi"},
		{"1-", SeqRange{}, "want lo-hi"},
		{"a-b", SeqRange{}, "want lo-hi"},
		{"4294967296", SeqRange{}, "want lo-hi"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSeqRange(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSeqRange(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSeqRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// The constants a filter sets in the BPF program: each filter on exactly
// when asked for, seq 0-0 included.
func TestFilterVars(t *testing.T) {
	id := connector.ID{Idx: 14, Val: 0x4c1}
	tests := []struct {
		name    string
		f       Filter
		want    filterVars
		wantErr string
	}{
		{"nothing", Filter{}, filterVars{}, ""},
		{"seq 0-0 filters", Filter{Seqs: &SeqRange{0, 0}}, filterVars{seq: 1}, ""},
		{"seq range", Filter{Mode: ModeAll, Seqs: &SeqRange{5, 9}}, filterVars{mode: ModeAll, seq: 1, seqLo: 5, seqHi: 9}, ""},
		{"id 0:0 filters", Filter{ID: &connector.ID{}}, filterVars{id: 1}, ""},
		{"id, port, group", Filter{Mode: ModeLosses, ID: &id, PortID: 7, Group: 20},
			filterVars{mode: ModeLosses, id: 1, idx: 14, val: 0x4c1, portid: 7, group: 20}, ""},
		{"lo above hi", Filter{Seqs: &SeqRange{9, 3}}, filterVars{}, "lo above hi"},
		{"unknown mode", Filter{Mode: 7}, filterVars{}, "unknown mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.f.vars()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("vars() = %+v, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("vars() = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
