// Command cnlab-vm builds cnlab's module for one kernel or a matrix of them,
// boots each under QEMU with the module, the e2e suites and cnctl inside,
// and prints the results. The work is package vm/runner's; this is its
// flags. Exit codes (the worst over the kernels):
//
//	0   passed
//	1   a spec or step failed
//	2   the kernel failed: oops, BUG, WARNING, panic, KASAN, lockdep, stall, hung task
//	3   the run could not be done: QEMU, a watchdog, lost results, a kernel missing or unbuildable, a target's ids not registered
//	4   the module (cnlab's, or -target's) does not build against the kernel
//	5   bad flags or arguments (a target file that does not parse): nothing was built or booted
//	130 interrupted (Ctrl-C, SIGTERM)
package main

import (
	"context"
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
	"github.com/cnlab/cnlab/vm/kernels"
	"github.com/cnlab/cnlab/vm/runner"
)

func main() {
	o, m, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "cnlab-vm: %v\n", err)
		os.Exit(runner.ExitUsage)
	}
	o.Stdout, o.Args = os.Stdout, os.Args
	switch {
	case m.listKernels:
		if err := runner.ListKernels(os.Stdout, m.conf(o), m.json); err != nil {
			fmt.Fprintf(os.Stderr, "cnlab-vm: %v\n", err)
			os.Exit(runner.ExitUsage)
		}
		return
	case m.merge:
		os.Exit(merge(o, m))
	case m.exportKernel != "":
		fmt.Printf("cnlab-vm: exporting %s into %s ...\n", m.exportKernel, m.dirs[0])
		if err := runner.ExportKernel(m.conf(o), m.exportKernel, m.dirs[0]); err != nil {
			fmt.Fprintf(os.Stderr, "cnlab-vm: %v\n", err)
			os.Exit(runner.ExitInfra)
		}
		fmt.Printf("cnlab-vm: %s is a kernel directory: run it with cnlab-vm -kernel-dir %s\n", m.dirs[0], m.dirs[0])
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := runner.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cnlab-vm: %v\n", err)
	}
	os.Exit(code)
}

// mode is what cnlab-vm does besides running: list the kernels, or merge
// results.
type mode struct {
	listKernels, json, merge bool
	exportKernel             string
	dirs                     []string
}

// conf is the kernel list that -list-kernels and -merge read.
func (m *mode) conf(o *runner.Options) string {
	if o.Matrix != "" {
		return o.Matrix
	}
	return filepath.Join(o.Src, "kernels", "kernels.conf")
}

// merge writes one JUnit, one KTAP and a Markdown table for results of
// kernels run apart, and returns the matrix's exit code.
func merge(o *runner.Options, m *mode) int {
	out := o.Out
	if out == "" {
		out = "merged"
	}
	// The kernels.conf says which kernels may fail; without it, none may.
	mayFail := map[string]bool{}
	ks, err := kernels.ReadConf(m.conf(o))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cnlab-vm: warning: %v: every kernel must pass\n", err)
	}
	for _, k := range ks {
		mayFail[k.Name] = k.MayFail
	}
	res, err := runner.Merge(out, m.dirs, mayFail)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cnlab-vm: %v\n", err)
		return runner.ExitUsage
	}
	table, _ := os.ReadFile(filepath.Join(out, "summary.md"))
	fmt.Printf("%s\ncnlab-vm: merged %d kernels into %s (results.junit.xml, results.ktap, summary.md)\n", table, len(res.Kernels), out)
	return res.ExitCode
}

func parseFlags(args []string) (*runner.Options, *mode, error) {
	o := &runner.Options{}
	m := &mode{}
	fs := flag.NewFlagSet("cnlab-vm", flag.ContinueOnError)
	fs.BoolVar(&m.listKernels, "list-kernels", false, "print the kernels of -matrix (default kernels/kernels.conf) and exit: name, release, where they come from; with -json, a JSON array for a forge's job matrix")
	fs.BoolVar(&m.json, "json", false, "with -list-kernels: JSON")
	fs.BoolVar(&m.merge, "merge", false, "merge the results of kernels run apart (the directories given as arguments, searched for summary.json) into -out (default merged): one results.junit.xml, one results.ktap, summary.md; exit with the matrix's code")
	fs.StringVar(&o.Kernel, "kernel", "", "kernel image to boot (bzImage), e.g. /boot/vmlinuz-6.1.0-56-amd64")
	fs.StringVar(&o.KernelDir, "kernel-dir", "", "a kernel as a directory (bzImage, build, config, modules), as make kernels builds it or -export-kernel writes it: instead of -kernel, -kdir, -config, -modules-dir")
	fs.StringVar(&m.exportKernel, "export-kernel", "", "write the kernel of -matrix (default kernels/kernels.conf) with this name as a kernel directory, into the directory given as argument, and exit")
	fs.StringVar(&o.KDir, "kdir", "", "with -kernel: prepared build tree of that kernel, with Module.symvers (default /lib/modules/<release>/build)")
	fs.StringVar(&o.Config, "config", "", "with -kernel: that kernel's config, checked before booting (default <kdir>/.config)")
	fs.StringVar(&o.ModulesDir, "modules-dir", "", "with -kernel: that kernel's modules, for what the cnlab module depends on (default /lib/modules/<release>)")
	fs.StringVar(&o.Matrix, "matrix", "", "run every kernel listed in this file (kernels/kernels.conf) instead of -kernel")
	fs.StringVar(&o.Kernels, "kernels", "", "with -matrix: only these kernels, by name, comma separated")
	fs.IntVar(&o.Jobs, "jobs", 0, "kernels booted at once (default and maximum: the host's cores)")
	fs.StringVar(&o.Src, "src", ".", "cnlab source tree")
	fs.StringVar(&o.Out, "out", "", "where results go: a directory per kernel release, and the guest's programs (default <src>/build)")
	fs.StringVar(&o.Memory, "memory", "1G", "guest memory, as QEMU's -m (at least 128M)")
	fs.IntVar(&o.CPUs, "cpus", 0, "CPUs per guest (default: the host's cores shared among the guests running at once)")
	fs.StringVar(&o.Accel, "accel", "auto", "accelerator: auto (KVM if a probe boot proves it works, else TCG), kvm or tcg")
	fs.StringVar(&o.QEMU, "qemu", "qemu-system-x86_64", "QEMU binary (with -vmm vng: virtme-ng's vng, found on PATH by default)")
	fs.StringVar(&o.VMM, "vmm", "qemu", "what boots the guest: qemu (cnlab's own initramfs and /init) or vng (virtme-ng: the host's files, cnlab's /init run as a command; make setup-vng installs it)")
	fs.DurationVar(&o.BootTimeout, "boot-timeout", 90*time.Second, "boot watchdog: time for the guest to reach /init")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "run watchdog: time for the job once /init runs")
	fs.DurationVar(&o.SilenceTimeout, "silence-timeout", vm.DefaultSilenceTimeout, "no-output watchdog: end a run whose console and results port say nothing for this long")
	fs.DurationVar(&o.Grace, "grace", vm.DefaultGrace, "once the console shows kernel trouble, time for the kernel to finish its report before the run ends with exit 2")
	fs.BoolVar(&o.Strict, "strict", false, "syzkaller's strict kernel command line: "+strings.Join(runner.StrictArgs, " ")+" (every oops, WARNING, lockup, hung task and RCU stall panics the guest at once)")
	fs.StringVar(&o.Labels, "labels", "", "Ginkgo label filter selecting the suites' specs, e.g. echo")
	fs.StringVar(&o.Focus, "focus", "", "Ginkgo focus regexp on spec names")
	fs.StringVar(&o.ModParams, "module-params", "", "parameters for the cnlab module, e.g. ack_skew=1")
	fs.StringVar(&o.Target, "target", "", "a target file (docs/targets.md): build and load that connector module instead of cnlab's, and run the specs labelled target (the generic suite) against its ids and promises; with -exec, load it and run the commands")
	fs.StringVar(&o.SuiteArgs, "suite-args", "", "extra arguments for the e2e binary, space separated, e.g. -cnlab.echo-id=14:0x457")
	fs.Int64Var(&o.Seed, "seed", 0, "the suites' seed: Ginkgo's spec order and the fuzz's input (default: chosen, printed and recorded in summary.json and bundles)")
	fs.BoolVar(&o.Bench, "bench", false, "run the round-trip benchmark (cnctl bench against the C reference client) instead of the suites")
	fs.Func("exec", "run this command in the guest (split on spaces; looked up on the guest's PATH, /bin) instead of the suites, with the module loaded; repeatable, in order; a command ending in ' &' runs beside the next ones, and the run waits for it", func(v string) error {
		s, err := runner.ParseExec(v, false)
		o.Steps = append(o.Steps, s)
		return err
	})
	fs.Func("exec-stop", "like -exec with ' &', but the command is stopped (SIGINT, then SIGKILL after 5s) once the other steps are done: for listeners and tracers that never end by themselves", func(v string) error {
		s, err := runner.ParseExec(v, true)
		o.Steps = append(o.Steps, s)
		return err
	})
	fs.Func("add", "add a host file to the guest, as host-path:guest-path (repeatable)", func(v string) error {
		o.Add = append(o.Add, v)
		return nil
	})
	fs.IntVar(&o.ConsoleLines, "console-lines", 60, "console lines to show when a run fails")
	fs.StringVar(&o.Bundle, "bundle", "", "write a bug report bundle (.tar.gz) with everything about the run and a script that replays it; implies -trace")
	fs.BoolVar(&o.Trace, "trace", false, "record every connector message with the eBPF probes (cnctl trace) while the job runs, into probe-records.jsonl.gz")
	fs.StringVar(&o.ICount, "icount", "auto", "run the guest's clock on instructions executed (QEMU's -icount; TCG only), so that timings are instruction counts, repeatable whatever the host does: on, off, or auto (on for -bench under TCG)")
	fs.StringVar(&o.KernelArgs, "append", "", "extra kernel command line arguments")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if m.exportKernel != "" {
		if fs.NArg() != 1 {
			return nil, nil, errors.New("-export-kernel NAME needs one argument: the directory to write")
		}
		m.dirs = fs.Args()
		return o, m, nil
	}
	if m.merge {
		if fs.NArg() == 0 {
			return nil, nil, errors.New("-merge needs the directories to merge, as arguments")
		}
		m.dirs = fs.Args()
		return o, m, nil
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected arguments %q (flags come before; -exec takes one quoted command)", fs.Args())
	}
	return o, m, nil
}
