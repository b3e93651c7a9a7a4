package rtt

import (
	"fmt"
	"math"
	"time"
)

// Stats accumulates round-trip times. The zero value is empty and ready.
type Stats struct {
	n          int
	min, max   time.Duration
	sum, sumSq float64 // in nanoseconds
}

// Add records one round trip.
func (s *Stats) Add(d time.Duration) {
	if s.n == 0 || d < s.min {
		s.min = d
	}
	if d > s.max {
		s.max = d
	}
	s.n++
	f := float64(d)
	s.sum += f
	s.sumSq += f * f
}

// Count is the number of round trips recorded.
func (s *Stats) Count() int { return s.n }

// Min is the shortest round trip, or 0 if none was recorded.
func (s *Stats) Min() time.Duration { return s.min }

// Max is the longest round trip.
func (s *Stats) Max() time.Duration { return s.max }

// Avg is the mean round trip.
func (s *Stats) Avg() time.Duration {
	if s.n == 0 {
		return 0
	}
	return time.Duration(s.sum / float64(s.n))
}

// Mdev is ping's mdev: the standard deviation, sqrt(mean(x²) - mean(x)²).
func (s *Stats) Mdev() time.Duration {
	if s.n == 0 {
		return 0
	}
	mean := s.sum / float64(s.n)
	v := s.sumSq/float64(s.n) - mean*mean
	if v < 0 { // rounding
		v = 0
	}
	return time.Duration(math.Sqrt(v))
}

// String formats the summary as ping's last line does, in milliseconds.
func (s *Stats) String() string {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return fmt.Sprintf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms", ms(s.Min()), ms(s.Avg()), ms(s.Max()), ms(s.Mdev()))
}
