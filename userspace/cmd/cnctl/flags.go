package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
)

// seconds is a flag for a time span given as ping(8) takes it, in seconds
// ("0.2"), or as a Go duration ("200ms").
type seconds struct{ d *time.Duration }

func (s seconds) String() string {
	if s.d == nil {
		return ""
	}
	return strconv.FormatFloat(s.d.Seconds(), 'f', -1, 64)
}

func (s seconds) Set(v string) error {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f > float64(math.MaxInt64/int64(time.Second)) {
			return fmt.Errorf("%q: want seconds, as 0.2, or a duration, as 200ms", v)
		}
		d := time.Duration(f * float64(time.Second))
		if d == 0 && f != 0 {
			// Taken as 0 it would mean something else (-i 0: at
			// once), or be refused as "0s", which nobody typed.
			return fmt.Errorf("%q: shorter than a nanosecond, the clock's unit", v)
		}
		*s.d = d
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q: want seconds, as 0.2, or a duration, as 200ms", v)
	}
	*s.d = d
	return nil
}

// check is a range check of one flag's value.
type check struct {
	flag   string
	v      int64
	lo, hi int64
}

// checkRanges returns the first check whose value is out of its range, as a
// one-line error.
func checkRanges(cs ...check) error {
	for _, c := range cs {
		if c.v < c.lo || c.v > c.hi {
			if c.hi == math.MaxInt64 {
				return fmt.Errorf("-%s %d: want %d or more", c.flag, c.v, c.lo)
			}
			return fmt.Errorf("-%s %d: want %d to %d", c.flag, c.v, c.lo, c.hi)
		}
	}
	return nil
}

// inRange is the check of a flag against one of control's bounds, the
// module's own.
func inRange(flag string, v int64, r control.Range) check {
	return check{flag, v, int64(r.Min), int64(r.Max)}
}

func msDuration(ms uint32) time.Duration { return time.Duration(ms) * time.Millisecond }

// inMilliseconds checks a duration the module takes in whole milliseconds
// against one of control's bounds.
func inMilliseconds(flag string, d time.Duration, r control.Range) error {
	if d < msDuration(r.Min) || d > msDuration(r.Max) {
		return fmt.Errorf("-%s %v: want %v to %v", flag, d, msDuration(r.Min), msDuration(r.Max))
	}
	return nil
}

// checkDuration is checkRanges for a duration: at least lo.
func checkDuration(flag string, d, lo time.Duration) error {
	if d < lo {
		return fmt.Errorf("-%s %v: want %v or more", flag, d, lo)
	}
	return nil
}

const maxUint32 = math.MaxUint32

// noCallback is a request's timeout, said as what it most likely means.
type noCallback struct {
	id   connector.ID
	wait time.Duration
	err  error
}

func (e *noCallback) Error() string {
	return fmt.Sprintf("no reply within %v: no callback on %s: is the cnlab module loaded?", e.wait, e.id)
}

func (e *noCallback) Unwrap() error { return e.err }

// errNoCallback says why requests to id went unanswered.
func errNoCallback(id connector.ID, wait time.Duration) error {
	return &noCallback{id, wait, context.DeadlineExceeded}
}

// explain turns a request's timeout into a noCallback.
func explain(err error, id connector.ID, wait time.Duration) error {
	var nc *noCallback
	if errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &nc) {
		return &noCallback{id, wait, err}
	}
	return err
}
