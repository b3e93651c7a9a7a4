package vm

import (
	"fmt"
	"strings"
)

// Machine is what a VMM boots.
type Machine struct {
	// VMM boots the machine: QEMU (if nil) or Vng.
	VMM  VMM
	QEMU string // the qemu-system-x86_64 binary, or virtme-ng's vng

	Kernel    string // bzImage
	Initramfs string
	Memory    string // as QEMU's -m takes it: 1G
	CPUs      int
	Accel     string // "tcg" or "kvm"
	// InstructionClock runs the guest's clock on instructions executed
	// (QEMU's -icount, TCG only): timings inside the guest become
	// instruction counts, the same from run to run whatever the host does.
	InstructionClock bool
	// Append is added to the kernel command line.
	Append []string
}

// kernelArgs are always on the command line: the console on ttyS0, and a
// panic that ends QEMU (with -no-reboot) instead of hanging the run.
// mitigations=off spares TCG the cost of emulating page-table isolation on
// every system call; the suites compare clients within one guest, never
// absolute times, so it changes no verdict. noirqdebug: under TCG, a
// PREEMPT_RT kernel's threaded 8250 handler sees the results port's IRQ as
// unhandled often enough that the kernel disables it ("irq 3: nobody
// cared"), and the results stop mid-run (seen on 6.12.95-rt).
var kernelArgs = []string{"console=ttyS0", "panic=-1", "rdinit=/init", "mitigations=off", "noirqdebug"}

// args returns QEMU's arguments. The console goes to QEMU's stdout; the
// results port (ttyS1) connects to the abstract unix socket resultsSock, where
// the host listens.
func (m *Machine) args(resultsSock string) ([]string, error) {
	if m.Accel != "tcg" && m.Accel != "kvm" {
		return nil, fmt.Errorf("accelerator %q: want tcg or kvm", m.Accel)
	}
	if m.InstructionClock && m.Accel != "tcg" {
		return nil, fmt.Errorf("an instruction clock needs TCG, not %s", m.Accel)
	}
	if m.CPUs < 1 {
		return nil, fmt.Errorf("%d CPUs: want at least 1", m.CPUs)
	}
	a := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-accel", m.Accel,
		"-m", m.Memory,
		"-smp", fmt.Sprint(m.CPUs),
		"-kernel", m.Kernel,
		"-initrd", m.Initramfs,
		"-append", strings.Join(append(append([]string(nil), kernelArgs...), m.Append...), " "),
		"-chardev", "stdio,id=console,signal=off",
		"-serial", "chardev:console",
		"-chardev", "socket,id=results,abstract=on,path=" + resultsSock,
		"-serial", "chardev:results",
	}
	if m.Accel == "kvm" {
		a = append(a, "-cpu", "host")
	}
	if m.InstructionClock {
		// shift=0: one nanosecond per instruction; sleep=off: an idle
		// guest's clock jumps to its next timer instead of following
		// the host's, so only work done counts.
		a = append(a, "-icount", "shift=0,sleep=off")
	}
	return a, nil
}
