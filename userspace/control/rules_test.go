package control_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

// What the agreement table (controltest.Cases) cannot run in the guest,
// where its sender is root: the capability check, after the format checks
// and never for stats; and a request too short to answer.
func TestModelWithoutCapability(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want control.Verdict
	}{
		{"stats", control.NewRequest(wire.OpGetStats).Data(), control.Verdict{}},
		{"timer stop", control.NewRequest(wire.OpTimerStop).Data(), control.Verdict{Status: syscall.EPERM, Refused: true}},
		{"burst out of bounds", control.NewRequest(wire.OpBurst, wire.Burst{}).Data(), control.Verdict{Status: syscall.EPERM, Refused: true}},
		{"unknown op", control.NewRequest(99).Data(), control.Verdict{Status: syscall.EOPNOTSUPP, Invalid: true}},
		{"arguments of the wrong size", control.Request{Op: wire.OpTimerStop, Args: []byte{1}}.Data(), control.Verdict{Status: syscall.EINVAL, Invalid: true}},
		{"shorter than struct cnlab_ctl_req", []byte{1, 0, 0}, control.Verdict{Silent: true, Invalid: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := control.NewModel().Answer(tt.data, false); got != tt.want {
				t.Fatalf("Answer = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestArgErrorIsEINVAL(t *testing.T) {
	err := control.CheckTimer(wire.Timer{Group: 1, Period: wire.MaxPeriod + 1})
	if !errors.Is(err, syscall.EINVAL) || err.Error() != "timer period 3600001: the module takes 1 to 3600000 ms" {
		t.Fatalf("CheckTimer = %v", err)
	}
}
