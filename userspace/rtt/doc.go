// Package rtt summarizes round-trip times the way ping(8) does: count,
// min, avg, max and mdev.
package rtt
