package runner

import (
	"strings"

	"github.com/cnlab/cnlab/vm"
)

// emulatorBootFault says why a boot that failed is the emulator's doing
// rather than the kernel's, or "" when it is not known to be. One case is
// known: under multi-threaded TCG (QEMU 7.2, more than one vCPU) a vCPU
// can run a block translated before another vCPU patched the kernel's
// text, and so trap on an int3 the kernel already replaced: "Oops: int3"
// at an instruction that reads as a nop, seen while booting Debian's 6.12-rt
// ("sched_clock: Marking stable", RIP sched_clock_cpu+0x9) once in about
// twenty boots on a loaded host. Only a fault before /init ran counts: the
// kernel under test has done nothing of the suites' yet, and a kernel whose
// boot really oopses oopses again on the second boot, which then fails the
// run as always.
func emulatorBootFault(out *vm.Outcome, accel string, cpus int) string {
	if out == nil || out.Kernel != "" || accel != "tcg" || cpus < 2 || len(out.Trouble) == 0 {
		return ""
	}
	first := out.Trouble[0]
	if !strings.Contains(first.Line, "Oops: int3") {
		return ""
	}
	return "the guest's kernel trapped on a stale int3 before /init (" + strings.TrimSpace(first.Line) +
		"), which multi-threaded TCG does when a vCPU runs code another vCPU's text patching replaced"
}
