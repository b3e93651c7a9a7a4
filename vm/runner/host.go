package runner

import (
	"os/exec"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/unix"
)

// Host is what a run's results depend on besides the kernel and the
// source: recorded in every summary.json, so a report says where it ran.
type Host struct {
	Runner     string `json:"runner"`      // the runner's module version and VCS revision
	QEMU       string `json:"qemu"`        // qemu -version's first line
	Accel      string `json:"accel"`       // tcg or kvm, once chosen
	HostKernel string `json:"host_kernel"` // uname -r of the host
	Args       string `json:"args"`        // the runner's arguments
}

// Summary is summary.json: one kernel's run in a form programs read.
type Summary struct {
	Name           string   `json:"name"`
	Release        string   `json:"release"`
	Kernel         string   `json:"kernel"` // uname -r in the guest, or the release if it never ran
	Image          string   `json:"image"`
	ExitCode       int      `json:"exit_code"`
	Verdict        string   `json:"verdict"`
	Reason         string   `json:"reason"`
	Passed         int      `json:"passed"`
	Failed         int      `json:"failed"`
	Skipped        int      `json:"skipped"`
	Seconds        float64  `json:"seconds"`
	TroubleSeconds float64  `json:"trouble_seconds,omitempty"` // when the console first showed trouble
	Trouble        []string `json:"trouble,omitempty"`
	ResultsLost    int      `json:"results_lost,omitempty"`
	// BootRetried says why the guest was booted twice, if it was: a fault
	// of the emulator's before /init (emulatorBootFault).
	BootRetried string `json:"boot_retried,omitempty"`
	Seed        int64  `json:"seed"`
	Host        Host   `json:"host"`
}

func describeHost(o *Options) Host {
	h := Host{Accel: o.Accel, Args: strings.Join(o.args(), " ")}
	if bi, ok := debug.ReadBuildInfo(); ok {
		h.Runner = bi.Main.Path + " " + bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				h.Runner += " " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					h.Runner += " (modified)"
				}
			}
		}
	}
	if out, err := exec.Command(o.QEMU, "-version").Output(); err == nil {
		h.QEMU, _, _ = strings.Cut(string(out), "\n")
	} else {
		h.QEMU = "(" + o.QEMU + " -version: " + err.Error() + ")"
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		h.HostKernel = unix.ByteSliceToString(uts.Release[:])
	}
	return h
}
