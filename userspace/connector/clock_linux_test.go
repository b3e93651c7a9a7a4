package connector

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
	"unsafe"
)

// wallShifted returns t with its wall clock reading moved by d and its
// monotonic reading kept: the deadline a caller computed before the system
// clock was stepped by -d. (time.Time has no way to build one; the test
// edits the wall field, and skips if its layout is not the one it knows.)
func wallShifted(t *testing.T, tm time.Time, d time.Duration) time.Time {
	t.Helper()
	type timeLayout struct {
		wall uint64
		ext  int64
		loc  *time.Location
	}
	if unsafe.Sizeof(tm) != unsafe.Sizeof(timeLayout{}) {
		t.Skip("time.Time's layout is not the one this test edits")
	}
	shifted := tm
	l := (*timeLayout)(unsafe.Pointer(&shifted))
	if l.wall&(1<<63) == 0 {
		t.Skip("time.Now() without a monotonic reading")
	}
	l.wall += uint64(d/time.Second) << 30 // the seconds field, above 30 bits of nanoseconds
	if got := shifted.Sub(tm.Round(0)); got != d || shifted.Sub(tm) != 0 {
		t.Skipf("editing time.Time's wall field moved it by %v wall, %v monotonic; want %v and 0", got, shifted.Sub(tm), d)
	}
	return shifted
}

// TestDeadlineIgnoresClockSteps: a read deadline is kept on the monotonic
// clock, as the time package compares times: a step of the system clock
// after the deadline was computed neither stretches nor shortens the wait.
func TestDeadlineIgnoresClockSteps(t *testing.T) {
	const wait = 100 * time.Millisecond
	tests := []struct {
		name string
		step time.Duration // of the wall clock, after the deadline was taken
	}{
		{"no step", 0},
		{"clock stepped back an hour", -time.Hour},
		{"clock stepped forward an hour", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialHost(t, nil)
			s := c.sock.(*linuxSocket)
			start := time.Now()
			dl := wallShifted(t, start.Add(wait), -tt.step)
			if err := s.setReadDeadline(dl); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_ = c.recvMu.lock(context.Background())
				defer c.recvMu.unlock()
				_, _, _, err := s.read(c.rbuf, true)
				done <- err
			}()
			select {
			case err := <-done:
				d := time.Since(start)
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("read: err = %v, want os.ErrDeadlineExceeded", err)
				}
				if d < wait-10*time.Millisecond || d > wait+time.Second {
					t.Fatalf("read with a deadline %v ahead, %s: gave up after %v", wait, tt.name, d)
				}
			case <-time.After(3 * time.Second):
				c.Close()
				<-done
				t.Fatalf("read with a deadline %v ahead, %s: still waiting after 3s", wait, tt.name)
			}
		})
	}
}
