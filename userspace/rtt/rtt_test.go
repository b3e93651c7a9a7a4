package rtt

import (
	"testing"
	"time"
)

func TestStats(t *testing.T) {
	us := time.Microsecond
	tests := []struct {
		name                string
		in                  []time.Duration
		min, avg, max, mdev time.Duration
	}{
		{"empty", nil, 0, 0, 0, 0},
		{"one", []time.Duration{5 * us}, 5 * us, 5 * us, 5 * us, 0},
		{"spread", []time.Duration{2 * us, 4 * us, 4 * us, 4 * us, 5 * us, 5 * us, 7 * us, 9 * us}, 2 * us, 5 * us, 9 * us, 2 * us},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Stats
			for _, d := range tt.in {
				s.Add(d)
			}
			if s.Count() != len(tt.in) || s.Min() != tt.min || s.Avg() != tt.avg || s.Max() != tt.max || s.Mdev() != tt.mdev {
				t.Fatalf("got n=%d min=%v avg=%v max=%v mdev=%v, want n=%d %v %v %v %v",
					s.Count(), s.Min(), s.Avg(), s.Max(), s.Mdev(), len(tt.in), tt.min, tt.avg, tt.max, tt.mdev)
			}
		})
	}
}

func TestString(t *testing.T) {
	var s Stats
	s.Add(1500 * time.Microsecond)
	if got, want := s.String(), "rtt min/avg/max/mdev = 1.500/1.500/1.500/0.000 ms"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}
