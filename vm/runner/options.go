package runner

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	modtarget "github.com/cnlab/cnlab/userspace/target"
)

// Exit codes of a run: each cause has one. A matrix exits with the worst
// over its kernels, in the order of Worse.
const (
	ExitPassed = 0 // every spec and step passed, and the kernel logged no trouble
	ExitFailed = 1 // a spec or step failed
	ExitKernel = 2 // the kernel failed: oops, BUG, WARNING, panic, KASAN, lockdep, stall, hung task ...
	ExitInfra  = 3 // the run could not be done: QEMU, a watchdog, the guest stopped early, results lost, a kernel that could not be built or found, a target's ids with no callback after its module loaded
	ExitBuild  = 4 // the module (cnlab's, or a target's) does not build against the kernel
	ExitUsage  = 5 // bad flags or arguments, a target file that does not parse: nothing was built or booted
	// ExitInterrupted is 128 + SIGINT, as shells report a Ctrl-C.
	ExitInterrupted = 130
)

// severity orders exit codes from best to worst, for a matrix's code: a run
// that could not be done hides what it would have found, so it is worst.
var severity = map[int]int{ExitPassed: 0, ExitFailed: 1, ExitKernel: 2, ExitBuild: 3, ExitInfra: 4, ExitUsage: 5, ExitInterrupted: 6}

// Worse returns the worse of two exit codes.
func Worse(a, b int) int {
	if severity[b] > severity[a] {
		return b
	}
	return a
}

// Options say what to run, on which kernels, and how: cnlab-vm's flags.
type Options struct {
	Kernel, KDir, Config, ModulesDir string // one kernel: its image, build tree, config and modules
	KernelDir                        string // one kernel as a directory (make kernels, -export-kernel)
	Matrix, Kernels                  string // a kernels.conf, and which of its kernels (comma separated)
	Jobs                             int    // kernels booted at once
	Src                              string // cnlab's source tree
	Out                              string // where results go, a directory per kernel release (default <Src>/build)
	Memory, Accel, QEMU              string
	VMM                              string // qemu (default) or vng (virtme-ng); QEMU names vng's binary then
	CPUs                             int
	BootTimeout, Timeout             time.Duration // boot and run watchdogs
	SilenceTimeout                   time.Duration // no-output watchdog
	Grace                            time.Duration // after the kernel's first trouble
	Labels, Focus, ModParams         string
	SuiteArgs                        string
	Seed                             int64 // the suites' seed (Ginkgo's and the fuzz's); 0: one is chosen and recorded
	Bench                            bool
	Steps                            []ExecStep // -exec, -exec-stop
	Add                              []string   // host-path:guest-path
	ConsoleLines                     int
	Bundle                           string
	Trace                            bool
	ICount                           string
	KernelArgs                       string
	Strict                           bool // panic on oops, WARNING, soft lockup, hung task
	// Target is a target file (docs/targets.md): its module is built and
	// loaded instead of cnlab's, and the suites run the specs labelled
	// target against its ids.
	Target string
	// Stdout gets the run's progress and results (nothing if nil).
	Stdout io.Writer
	// Args is the command line that started the run, the program's
	// name first, as results and bundles record it.
	Args []string

	target *modtarget.Target // Target, read by Check
}

// OutDir is where the results go: Out, or the source tree's build/.
func (o *Options) OutDir() string {
	if o.Out != "" {
		return o.Out
	}
	return filepath.Join(o.Src, "build")
}

// ExecStep is a command to run in the guest instead of the suites.
type ExecStep struct {
	Argv       []string
	Background bool // runs beside the next steps
	StopAtEnd  bool // a background step stopped once the others are done
}

// ParseExec reads an -exec command: split on spaces; a trailing "&" runs it
// in the background.
func ParseExec(cmd string, stopAtEnd bool) (ExecStep, error) {
	argv := strings.Fields(cmd)
	bg := len(argv) > 0 && argv[len(argv)-1] == "&"
	if bg {
		argv = argv[:len(argv)-1]
	}
	if len(argv) == 0 {
		return ExecStep{}, fmt.Errorf("-exec %q: no command", cmd)
	}
	if stopAtEnd {
		bg = true
	}
	return ExecStep{Argv: argv, Background: bg, StopAtEnd: stopAtEnd}, nil
}

// StrictArgs are syzkaller's strict kernel command line: every oops,
// WARNING, soft lockup, hung task and RCU stall panics the guest at once.
// panic_on_rcu_stall is a sysctl only, set from the command line with the
// sysctl. prefix (5.8 and later).
var StrictArgs = []string{"oops=panic", "panic_on_warn=1", "softlockup_panic=1", "hung_task_panic=1", "sysctl.kernel.panic_on_rcu_stall=1"}

var memoryRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([MmGg]?)$`)

// Check finds what is wrong with the options before anything is built or
// booted; each problem is one line.
func (o *Options) Check() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch {
	case o.KernelDir != "" && (o.Kernel != "" || o.Matrix != "" || o.KDir != "" || o.Config != "" || o.ModulesDir != ""):
		bad("-kernel-dir names the image, build tree, config and modules at once: give it alone, without -kernel, -matrix, -kdir, -config or -modules-dir")
	case o.KernelDir != "":
	case o.Matrix != "" && o.Kernel != "":
		bad("give -kernel or -matrix, not both")
	case o.Matrix == "" && o.Kernel == "":
		bad("-kernel, -kernel-dir or -matrix is required: the kernel image to boot, a kernel directory, or a list of kernels (make e2e picks one from kernels/kernels.conf)")
	}
	if o.Matrix != "" {
		for flag, v := range map[string]string{"-kdir": o.KDir, "-config": o.Config, "-modules-dir": o.ModulesDir} {
			if v != "" {
				bad("%s applies to -kernel only: a -matrix takes each kernel's from its kernels.conf", flag)
			}
		}
	}
	if o.Kernels != "" {
		if o.Matrix == "" {
			bad("-kernels picks kernels of a -matrix; without -matrix it means nothing")
		}
		seen := map[string]bool{}
		for _, k := range strings.Split(o.Kernels, ",") {
			if seen[k] {
				bad("-kernels names %q twice", k)
			}
			seen[k] = true
		}
	}
	if m := memoryRE.FindStringSubmatch(o.Memory); m == nil {
		bad("-memory %q: want a size QEMU takes, like 512M or 1G", o.Memory)
	} else {
		n, _ := strconv.ParseFloat(m[1], 64)
		mib := n // QEMU takes a bare number as MiB
		if m[2] == "G" || m[2] == "g" {
			mib = n * 1024
		}
		if mib < 128 {
			bad("-memory %s: a guest needs at least 128M", o.Memory)
		}
	}
	if o.CPUs < 0 || o.Jobs < 0 {
		bad("-cpus and -jobs cannot be negative")
	}
	for name, d := range map[string]time.Duration{"-boot-timeout": o.BootTimeout, "-timeout": o.Timeout, "-silence-timeout": o.SilenceTimeout, "-grace": o.Grace} {
		if d < 0 {
			bad("%s %v: cannot be negative", name, d)
		}
	}
	if abs, err := filepath.Abs(o.OutDir()); err == nil && strings.ContainsAny(abs, " ,:#") {
		bad("results directory %q: the kernel's build system cannot build the module under a path with a space, comma, colon or #: pass another -out", abs)
	}
	if len(o.Steps) > 0 && o.Bench {
		bad("-exec and -bench both say what to run: give one")
	}
	if len(o.Steps) > 0 && (o.Labels != "" || o.Focus != "") {
		bad("-labels and -focus select specs of the suites, which -exec replaces")
	}
	for _, a := range o.Add {
		if host, g, ok := strings.Cut(a, ":"); !ok || host == "" || !strings.HasPrefix(g, "/") {
			bad("-add %q: want host-path:/guest/path", a)
		}
	}
	if l, err := launcherFor(o.VMM); err != nil {
		bad("%v", err)
	} else if err := l.check(o); err != nil {
		bad("%v", err)
	}
	switch o.Accel {
	case "auto", "kvm", "tcg":
	default:
		bad("-accel %q: want auto, kvm or tcg", o.Accel)
	}
	if o.ICount == "on" {
		switch o.Accel {
		case "kvm":
			bad("-icount on needs TCG: pass -accel tcg (or auto), or -icount off")
		case "auto":
			o.Accel = "tcg" // the instruction clock exists only under TCG
		}
	}
	if _, err := instructionClock(o, "tcg"); err != nil {
		bad("%v", err)
	}
	o.checkTarget(bad)
	for _, a := range o.Add {
		if host, _, ok := strings.Cut(a, ":"); ok && host != "" {
			if _, err := os.Stat(host); err != nil {
				bad("-add %q: %v", a, err)
			}
		}
	}
	if len(problems) > 0 {
		return &UsageError{errors.New(strings.Join(problems, "\n"))}
	}
	return nil
}

// UsageError is a problem with the options themselves.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }
