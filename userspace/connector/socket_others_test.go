//go:build !linux

package connector

import (
	"errors"
	"testing"
)

// TestUnsupportedElsewhere: off Linux, every call that needs the kernel
// fails with an error that is errors.ErrUnsupported.
func TestUnsupportedElsewhere(t *testing.T) {
	_, err := Dial(nil)
	errs := map[string]error{"Dial": err}
	c := newConn(&fakeSocket{})
	errs["SetReadBuffer"] = c.SetReadBuffer(1<<16, false)
	_, errs["ReadBuffer"] = c.ReadBuffer()
	_, errs["SyscallConn"] = c.SyscallConn()
	for name, err := range errs {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: err = %v, want errors.ErrUnsupported", name, err)
		}
	}
}
