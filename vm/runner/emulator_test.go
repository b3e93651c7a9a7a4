package runner

import (
	"strings"
	"testing"

	"github.com/cnlab/cnlab/vm"
)

func TestEmulatorBootFault(t *testing.T) {
	int3 := []vm.Trouble{{What: "Oops", Line: "[    4.780923] Oops: int3: 0000 [#1] PREEMPT_RT SMP NOPTI"}}
	tests := []struct {
		name  string
		out   *vm.Outcome
		accel string
		cpus  int
		retry bool
	}{
		{"int3 at boot under multi-threaded TCG", &vm.Outcome{Trouble: int3}, "tcg", 2, true},
		{"after /init ran: the kernel's, whatever it is", &vm.Outcome{Kernel: "6.12.95+deb12-rt-amd64", Trouble: int3}, "tcg", 2, false},
		{"one vCPU: no other vCPU patched the text", &vm.Outcome{Trouble: int3}, "tcg", 1, false},
		{"KVM runs the real CPU", &vm.Outcome{Trouble: int3}, "kvm", 2, false},
		{"another oops at boot", &vm.Outcome{Trouble: []vm.Trouble{{What: "BUG", Line: "BUG: kernel NULL pointer dereference"}}}, "tcg", 2, false},
		{"no trouble: a timeout, say", &vm.Outcome{}, "tcg", 2, false},
		{"no outcome", nil, "tcg", 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why := emulatorBootFault(tt.out, tt.accel, tt.cpus)
			if (why != "") != tt.retry {
				t.Errorf("emulatorBootFault = %q, want a retry: %v", why, tt.retry)
			}
			if why != "" && !strings.Contains(why, "Oops: int3") {
				t.Errorf("emulatorBootFault = %q: does not quote the console's line", why)
			}
		})
	}
}
