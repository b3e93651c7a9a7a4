// Command cnlab-vm builds cnlab's module for one kernel or a matrix of them,
// boots each under QEMU with the module, the e2e suites and cnctl inside,
// and prints the results. Its exit code, the worst over the kernels: 0
// passed, 1 specs or steps failed, 2 a kernel failed (oops, panic, BUG,
// WARNING, hung task), 3 a run could not be done (bad arguments, build or
// boot failure, watchdog).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitPassed = 0
	exitFailed = 1
	exitKernel = 2
	exitInfra  = 3
)

type options struct {
	kernel, kdir, config, modulesDir string
	matrix, kernels                  string
	jobs                             int
	src                              string
	memory, accel, qemu              string
	cpus                             int
	bootTimeout, timeout             time.Duration
	labels, focus, modParams         string
	suiteArgs                        string
	bench                            bool
	exec                             stringList
	add                              stringList
	consoleLines                     int
	bundle                           string
	trace                            bool
	icount                           string
	kernelArgs                       string
}

func main() {
	var o options
	flag.StringVar(&o.kernel, "kernel", "", "kernel image to boot (bzImage), e.g. /boot/vmlinuz-6.1.0-56-amd64")
	flag.StringVar(&o.kdir, "kdir", "", "prepared build tree of that kernel (default /lib/modules/<release>/build)")
	flag.StringVar(&o.config, "config", "", "that kernel's config, checked before booting (default <kdir>/.config)")
	flag.StringVar(&o.modulesDir, "modules-dir", "", "that kernel's modules, for what the cnlab module depends on (default /lib/modules/<release>)")
	flag.StringVar(&o.matrix, "matrix", "", "run every kernel listed in this file (scripts/kernels.conf) instead of -kernel")
	flag.StringVar(&o.kernels, "kernels", "", "with -matrix: only these kernels, by name, comma separated")
	flag.IntVar(&o.jobs, "jobs", 0, "kernels booted at once (default and maximum: the host's cores)")
	flag.StringVar(&o.src, "src", ".", "cnlab source tree")
	flag.StringVar(&o.memory, "memory", "1G", "guest memory, as QEMU's -m")
	flag.IntVar(&o.cpus, "cpus", 0, "CPUs per guest (default: the host's cores shared among the guests running at once)")
	flag.StringVar(&o.accel, "accel", "auto", "accelerator: auto (KVM if a probe boot proves it works, else TCG), kvm or tcg")
	flag.StringVar(&o.qemu, "qemu", "qemu-system-x86_64", "QEMU binary")
	flag.DurationVar(&o.bootTimeout, "boot-timeout", 90*time.Second, "boot watchdog: time for the guest to reach /init")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "run watchdog: time for the job once /init runs")
	flag.StringVar(&o.labels, "labels", "", "Ginkgo label filter selecting the suites' specs, e.g. echo")
	flag.StringVar(&o.focus, "focus", "", "Ginkgo focus regexp on spec names")
	flag.StringVar(&o.modParams, "module-params", "", "parameters for the cnlab module, e.g. ack_skew=1")
	flag.StringVar(&o.suiteArgs, "suite-args", "", "extra arguments for the e2e binary, space separated, e.g. -cnlab.echo-id=14:0x457")
	flag.BoolVar(&o.bench, "bench", false, "run the round-trip benchmark (cnctl bench against the C reference client) instead of the suites")
	flag.Var(&o.exec, "exec", "run this command in the guest (split on spaces) instead of the suites, with the module loaded; repeatable, in order; a command ending in ' &' runs beside the next ones")
	flag.Var(&o.add, "add", "add a host file to the guest, as host-path:guest-path (repeatable)")
	flag.IntVar(&o.consoleLines, "console-lines", 60, "console lines to show when a run fails")
	flag.StringVar(&o.bundle, "bundle", "", "write a bug report bundle (.tar.gz) with everything about the run and a script that replays it; implies -trace")
	flag.BoolVar(&o.trace, "trace", false, "record every connector message with the eBPF probes (cnctl trace) while the job runs, into probe-records.jsonl.gz")
	flag.StringVar(&o.icount, "icount", "auto", "run the guest's clock on instructions executed (QEMU's -icount; TCG only), so that timings are instruction counts, repeatable whatever the host does: on, off, or auto (on for -bench under TCG)")
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
	if err := f(); err != nil {
		fmt.Println("failed")
		return err
	}
	fmt.Printf("done in %.1fs\n", time.Since(start).Seconds())
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
