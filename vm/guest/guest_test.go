package guest

import (
	"slices"
	"testing"
)

func TestMissingIDs(t *testing.T) {
	// As 6.1's drivers/connector/connector.c prints it: "%-15s %u:%u".
	list := "Name            ID\ncn_proc         1:1\ncn_test         14:1110\na_long_callback_name 14:1111\n"
	if got, want := ConnectorIDs(list), []string{"1:1", "14:1110", "14:1111"}; !slices.Equal(got, want) {
		t.Errorf("ConnectorIDs = %q, want %q", got, want)
	}
	tests := []struct {
		name       string
		list       string
		want, miss []string
	}{
		{"all there", list, []string{"14:1110", "14:1111"}, nil},
		{"one missing", list, []string{"14:1110", "17:1"}, []string{"17:1"}},
		{"an empty list", "Name            ID\n", []string{"17:1"}, []string{"17:1"}},
		{"hex is not how the kernel prints it", list, []string{"14:0x456"}, []string{"14:0x456"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MissingIDs(tt.list, tt.want); !slices.Equal(got, tt.miss) {
				t.Errorf("MissingIDs = %q, want %q", got, tt.miss)
			}
		})
	}
}
