package seqgap

import (
	"reflect"
	"testing"
)

func TestTracker(t *testing.T) {
	type obs struct {
		key     string
		seq     uint32
		verdict Verdict
		gap     Range
	}
	tests := []struct {
		name string
		obs  []obs
	}{
		{"in order", []obs{{"a", 0, First, Range{}}, {"a", 1, InOrder, Range{}}, {"a", 2, InOrder, Range{}}}},
		{"a gap", []obs{{"a", 5, First, Range{}}, {"a", 9, Gap, Range{6, 8}}, {"a", 10, InOrder, Range{}}}},
		{"streams apart", []obs{{"a", 1, First, Range{}}, {"b", 7, First, Range{}}, {"a", 2, InOrder, Range{}}, {"b", 9, Gap, Range{8, 8}}}},
		{"duplicate", []obs{{"a", 3, First, Range{}}, {"a", 3, Backwards, Range{}}}},
		{"wraps", []obs{{"a", 0xfffffffe, First, Range{}}, {"a", 0xffffffff, InOrder, Range{}}, {"a", 1, Gap, Range{0, 0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr Tracker[string]
			for i, o := range tt.obs {
				v, r := tr.Observe(o.key, o.seq)
				if v != o.verdict || r != o.gap {
					t.Fatalf("observation %d (%s %d): %v %v, want %v %v", i, o.key, o.seq, v, r, o.verdict, o.gap)
				}
			}
		})
	}
}

func TestMissing(t *testing.T) {
	tests := []struct {
		name string
		want Range
		got  []uint32
		miss []Range
	}{
		{"none", Range{0, 3}, []uint32{0, 1, 2, 3}, nil},
		{"all", Range{10, 12}, nil, []Range{{10, 12}}},
		{"middle and tail", Range{0, 9}, []uint32{0, 1, 5, 6}, []Range{{2, 4}, {7, 9}}},
		{"extra seqs ignored", Range{0, 1}, []uint32{0, 1, 99}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Missing(tt.want, tt.got); !reflect.DeepEqual(got, tt.miss) {
				t.Fatalf("Missing = %v, want %v", got, tt.miss)
			}
		})
	}
	if (Range{3, 5}).Len() != 3 || (Range{3, 5}).String() != "3-5" || (Range{4, 4}).String() != "4" {
		t.Fatal("Range.Len or String")
	}
}
