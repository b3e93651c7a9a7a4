// Command cnlab-vm builds cnlab's module for a kernel, boots that kernel
// under QEMU with the module, the e2e suites and cnctl inside, and prints
// the results. Its exit code: 0 passed, 1 specs or steps failed, 2 the
// kernel failed (oops, panic, BUG, WARNING, hung task), 3 the run could not
// be done (bad arguments, build or boot failure, watchdog).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/vm"
	"github.com/cnlab/cnlab/vm/guest"
	"github.com/cnlab/cnlab/vm/report"
)

// Exit codes.
const (
	exitPassed = 0
	exitFailed = 1
	exitKernel = 2
	exitInfra  = 3
)

type options struct {
	kernel, kdir, src, out   string
	memory, accel, qemu      string
	cpus                     int
	bootTimeout, timeout     time.Duration
	labels, focus, modParams string
	suiteArgs                string
	bench                    bool
	exec                     string
	add                      stringList
	consoleLines             int
	kernelArgs               string
}

func main() {
	var o options
	flag.StringVar(&o.kernel, "kernel", "", "kernel image to boot (bzImage), e.g. /boot/vmlinuz-6.1.0-56-amd64 (required)")
	flag.StringVar(&o.kdir, "kdir", "", "prepared build tree of that kernel (default /lib/modules/<release>/build)")
	flag.StringVar(&o.src, "src", ".", "cnlab source tree")
	flag.StringVar(&o.out, "out", "", "directory for this run's build products and logs (default build/<release>)")
	flag.StringVar(&o.memory, "memory", "1G", "guest memory, as QEMU's -m")
	flag.IntVar(&o.cpus, "cpus", 2, "guest CPUs")
	flag.StringVar(&o.accel, "accel", "auto", "accelerator: auto (KVM if a probe boot proves it works, else TCG), kvm or tcg")
	flag.StringVar(&o.qemu, "qemu", "qemu-system-x86_64", "QEMU binary")
	flag.DurationVar(&o.bootTimeout, "boot-timeout", 90*time.Second, "boot watchdog: time for the guest to reach /init")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "run watchdog: time for the job once /init runs")
	flag.StringVar(&o.labels, "labels", "", "Ginkgo label filter selecting the suites' specs, e.g. echo")
	flag.StringVar(&o.focus, "focus", "", "Ginkgo focus regexp on spec names")
	flag.StringVar(&o.modParams, "module-params", "", "parameters for the cnlab module, e.g. ack_skew=1")
	flag.StringVar(&o.suiteArgs, "suite-args", "", "extra arguments for the e2e binary, space separated, e.g. -cnlab.echo-id=14:0x457")
	flag.BoolVar(&o.bench, "bench", false, "run the round-trip benchmark (cnctl bench against the C reference client) instead of the suites")
	flag.StringVar(&o.exec, "exec", "", "run this command in the guest (split on spaces) instead of the suites, with the module loaded")
	flag.Var(&o.add, "add", "add a host file to the guest, as host-path:guest-path (repeatable)")
	flag.IntVar(&o.consoleLines, "console-lines", 60, "console lines to show when a run fails")
	flag.StringVar(&o.kernelArgs, "append", "", "extra kernel command line arguments")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "cnlab-vm: unexpected arguments %q\n", flag.Args())
		os.Exit(exitInfra)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, &o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cnlab-vm: %v\n", err)
	}
	os.Exit(code)
}

func say(format string, args ...any) {
	fmt.Printf("cnlab-vm: "+format+"\n", args...)
}

// timed runs f and reports how long it took.
func timed(what string, f func() error) error {
	fmt.Printf("cnlab-vm: %s ... ", what)
	start := time.Now()
	err := f()
	if err != nil {
		fmt.Println("failed")
		return err
	}
	fmt.Printf("done in %.1fs\n", time.Since(start).Seconds())
	return nil
}

func run(ctx context.Context, o *options) (int, error) {
	if o.kernel == "" {
		return exitInfra, errors.New("-kernel is required: the kernel image to boot (make e2e picks one from scripts/kernels.conf)")
	}
	release, err := vm.ImageRelease(o.kernel)
	if err != nil {
		return exitInfra, err
	}
	if o.kdir == "" {
		o.kdir = filepath.Join("/lib/modules", release, "build")
	}
	treeRelease, err := vm.TreeRelease(o.kdir)
	if err != nil {
		return exitInfra, err
	}
	if treeRelease != release {
		return exitInfra, fmt.Errorf("kernel image %s is %s but build tree %s builds modules for %s: the module would not load (pass the matching -kdir)", o.kernel, release, o.kdir, treeRelease)
	}
	warnings, err := vm.CheckConfig(filepath.Join(o.kdir, ".config"), vm.RequiredConfig)
	if err != nil {
		return exitInfra, err
	}
	for _, w := range warnings {
		say("warning: %s", w)
	}
	if o.out == "" {
		o.out = filepath.Join(o.src, "build", release)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return exitInfra, err
	}
	say("kernel %s (%s), build tree %s", release, o.kernel, o.kdir)

	var ko string
	if err := timed("building the module for "+release, func() (err error) {
		ko, err = vm.BuildModule(o.src, o.kdir, filepath.Join(o.out, "kmod"))
		return err
	}); err != nil {
		return exitInfra, err
	}
	var bins *vm.GuestBinaries
	if err := timed("building the guest's programs", func() (err error) {
		bins, err = vm.BuildGuestBinaries(o.src, filepath.Join(o.src, "build", "guest"))
		return err
	}); err != nil {
		return exitInfra, err
	}

	job := guest.Job{Modules: []guest.Module{{Path: "/lib/cnlab/cnlab.ko", Name: "cnlab", Params: o.modParams}}}
	const report = "/tmp/e2e.json"
	switch {
	case o.exec != "":
		job.Steps = []guest.Step{{Name: "exec", Argv: strings.Fields(o.exec)}}
	case o.bench:
		job.Steps = []guest.Step{{Name: "bench", Argv: []string{"/bin/cnctl", "bench", "-ref", "/bin/cn_echo_ref"}}}
	default:
		argv := []string{"/bin/e2e.test", "-ginkgo.v", "-ginkgo.no-color", "-ginkgo.json-report=" + report}
		if o.labels != "" {
			argv = append(argv, "-ginkgo.label-filter="+o.labels)
		}
		if o.focus != "" {
			argv = append(argv, "-ginkgo.focus="+o.focus)
		}
		argv = append(argv, strings.Fields(o.suiteArgs)...)
		job.Steps = []guest.Step{{Name: "e2e", Argv: argv, Collect: []string{report}}}
	}
	initramfs := filepath.Join(o.out, "initramfs.gz")
	if err := timed("writing the initramfs", func() error {
		return writeInitramfs(initramfs, bins, ko, &job, o.add)
	}); err != nil {
		return exitInfra, err
	}

	m := vm.Machine{QEMU: o.qemu, Kernel: o.kernel, Initramfs: initramfs, Memory: o.memory, CPUs: o.cpus, Append: strings.Fields(o.kernelArgs)}
	accel, note, err := vm.ChooseAccel(ctx, o.accel, o.qemu, kvmProbeCache(), func(ctx context.Context) (bool, error) {
		say("probing KVM with a short boot (once per host)")
		probe := filepath.Join(o.out, "kvm-probe-initramfs.gz")
		if err := writeInitramfs(probe, &vm.GuestBinaries{Init: bins.Init}, "", &guest.Job{}, nil); err != nil {
			return false, err
		}
		pm := m
		pm.Accel, pm.Initramfs, pm.CPUs = "kvm", probe, 1
		r := vm.Run{Machine: pm, BootTimeout: 20 * time.Second, RunTimeout: 20 * time.Second, ConsoleLog: filepath.Join(o.out, "kvm-probe-console.log")}
		out, err := r.Boot(ctx)
		if err != nil {
			return false, err
		}
		return out.Kernel != "", nil
	})
	if err != nil {
		return exitInfra, err
	}
	m.Accel = accel
	say("accelerator %s: %s", accel, note)

	consoleLog := filepath.Join(o.out, "console.log")
	say("booting %s under QEMU (%s, %d CPUs, %s); console log: %s", release, accel, o.cpus, o.memory, consoleLog)
	r := vm.Run{Machine: m, BootTimeout: o.bootTimeout, RunTimeout: o.timeout, ConsoleLog: consoleLog, Progress: os.Stdout}
	out, err := r.Boot(ctx)
	if err != nil {
		return exitInfra, err
	}
	return conclude(o, out, consoleLog, report)
}

func conclude(o *options, out *vm.Outcome, consoleLog, reportPath string) (int, error) {
	fmt.Println()
	var suites []report.Suite
	for _, s := range out.Steps {
		b, ok := s.Files[reportPath]
		if !ok {
			continue
		}
		_ = os.WriteFile(filepath.Join(o.out, "e2e-report.json"), b, 0o644)
		parsed, err := report.Parse(b)
		if err != nil {
			out.Errors = append(out.Errors, err.Error())
			continue
		}
		suites = append(suites, parsed...)
	}
	report.Print(os.Stdout, suites)
	if !o.bench && out.Verdict == vm.Passed && len(suites) == 0 {
		out.Verdict, out.Reason = vm.Failed, "the suites wrote no report"
	}
	var c report.Counts
	for _, s := range suites {
		sc := s.Counts()
		c.Passed, c.Failed, c.Skipped = c.Passed+sc.Passed, c.Failed+sc.Failed, c.Skipped+sc.Skipped
	}
	summary, _ := json.Marshal(map[string]any{
		"kernel": out.Kernel, "verdict": out.Verdict.String(), "reason": out.Reason,
		"passed": c.Passed, "failed": c.Failed, "skipped": c.Skipped, "seconds": out.Duration.Seconds(),
	})
	_ = os.WriteFile(filepath.Join(o.out, "summary.json"), summary, 0o644)

	for _, t := range out.Trouble {
		say("kernel %s: %s", t.What, t.Line)
	}
	for _, e := range out.Errors {
		say("guest error: %s", e)
	}
	code := exitPassed
	if out.Verdict != vm.Passed {
		fmt.Printf("cnlab-vm: why: %s\n", out.Reason)
		fmt.Printf("cnlab-vm: last %d console lines (all in %s):\n%s\n", o.consoleLines, consoleLog, vm.Tail(consoleLog, o.consoleLines))
		code = map[vm.Verdict]int{vm.Failed: exitFailed, vm.KernelFailure: exitKernel, vm.InfraFailure: exitInfra}[out.Verdict]
	}
	fmt.Printf("\ncnlab-vm: %s on %s in %.1fs (results in %s)\n", out.Verdict, orUnknown(out.Kernel), out.Duration.Seconds(), o.out)
	if len(suites) > 0 {
		// The last line, in the form CI systems read.
		fmt.Printf("e2e: %d passed, %d failed, %d skipped\n", c.Passed, c.Failed, c.Skipped)
	}
	return code, nil
}

func orUnknown(kernel string) string {
	if kernel == "" {
		return "a kernel that did not reach /init"
	}
	return kernel
}

func writeInitramfs(path string, bins *vm.GuestBinaries, ko string, job *guest.Job, extra []string) error {
	var r vm.Initramfs
	r.Add(vm.File{Path: "/dev/console", Mode: os.ModeDevice | os.ModeCharDevice | 0o600, Major: 5, Minor: 1})
	for _, d := range []string{"/proc", "/sys", "/tmp", "/dev"} {
		r.Add(vm.File{Path: d, Mode: os.ModeDir | 0o755})
	}
	files := map[string]string{"/init": bins.Init, "/bin/e2e.test": bins.E2E, "/bin/cnctl": bins.Cnctl, "/bin/cn_echo_ref": bins.EchoRef, "/lib/cnlab/cnlab.ko": ko}
	for guestPath, host := range files {
		if host == "" {
			continue
		}
		if err := r.AddHostFile(guestPath, host); err != nil {
			return err
		}
	}
	for _, a := range extra {
		host, guestPath, ok := strings.Cut(a, ":")
		if !ok || !strings.HasPrefix(guestPath, "/") {
			return fmt.Errorf("-add %q: want host-path:/guest/path", a)
		}
		if err := r.AddHostFile(guestPath, host); err != nil {
			return err
		}
	}
	b, err := json.Marshal(job)
	if err != nil {
		return err
	}
	r.Add(vm.File{Path: guest.JobPath, Data: b, Mode: 0o644})
	return r.WriteFile(path)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func kvmProbeCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "cnlab", "kvm-probe.json")
}
