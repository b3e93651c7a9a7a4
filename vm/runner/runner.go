package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/cnlab/cnlab/vm"
	"github.com/cnlab/cnlab/vm/guest"
	"github.com/cnlab/cnlab/vm/report"
)

// shared is what every kernel's run uses.
type shared struct {
	o      *options
	bins   *vm.GuestBinaries
	accel  string
	cpus   int
	icount bool
}

// instructionClock says whether the guests run on an instruction clock:
// -icount on or off, or auto: on for -bench under TCG, where host time
// swings twofold within minutes and only instruction counts repeat.
func instructionClock(o *options, accel string) (bool, error) {
	switch o.icount {
	case "off":
		return false, nil
	case "auto", "":
		return o.bench && accel == "tcg", nil
	case "on":
		if accel != "tcg" {
			return false, fmt.Errorf("-icount on needs TCG, and the accelerator is %s: pass -accel tcg, or -icount off", accel)
		}
		return true, nil
	default:
		return false, fmt.Errorf("-icount %q: want on, off or auto", o.icount)
	}
}

// kernelResult is how one kernel's run went.
type kernelResult struct {
	t       target
	out     *vm.Outcome // nil if the run never booted
	suites  []report.Suite
	counts  report.Counts
	code    int
	err     error // why the run could not be done
	src     string
	dir     string
	elapsed time.Duration
}

// The path of the suites' report in the guest.
const guestReport = "/tmp/e2e.json"

func run(ctx context.Context, o *options) (int, error) {
	if _, err := instructionClock(o, "tcg"); err != nil {
		return exitInfra, err
	}
	ts, err := targets(o)
	if err != nil {
		return exitInfra, err
	}
	var problems []string
	for i := range ts {
		warnings, err := ts[i].prepare()
		for _, w := range warnings {
			say("%s: warning: %s", ts[i].Name, w)
		}
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return exitInfra, fmt.Errorf("nothing was booted:\n%s", strings.Join(problems, "\n"))
	}

	sh := &shared{o: o}
	if err := timed("building the guest's programs", func() (err error) {
		sh.bins, err = vm.BuildGuestBinaries(o.src, filepath.Join(o.src, "build", "guest"))
		return err
	}); err != nil {
		return exitInfra, err
	}
	ncpu := runtime.NumCPU()
	jobs := o.jobs
	if jobs <= 0 || jobs > ncpu {
		jobs = ncpu
	}
	jobs = min(jobs, len(ts))
	sh.cpus = o.cpus
	if sh.cpus <= 0 {
		sh.cpus = max(1, ncpu/jobs)
	}
	accel, note, err := vm.ChooseAccel(ctx, o.accel, o.qemu, kvmProbeCache(), func(ctx context.Context) (bool, error) {
		return probeKVM(ctx, sh, ts[0])
	})
	if err != nil {
		return exitInfra, err
	}
	sh.accel = accel
	say("accelerator %s: %s", accel, note)
	if sh.icount, err = instructionClock(o, accel); err != nil {
		return exitInfra, err
	}
	if sh.icount {
		if o.cpus <= 0 {
			// One CPU: whatever a benchmark's helpers (the probes'
			// reader) do is then paid for by the work measured.
			sh.cpus = 1
		}
		say("the guest's clock counts instructions (-icount): one nanosecond per instruction executed, on %d CPU(s); timings are repeatable instruction counts, not host time", sh.cpus)
	}

	var results []*kernelResult
	code := exitPassed
	if len(ts) == 1 {
		r := runKernel(ctx, sh, ts[0], os.Stdout)
		printResult(os.Stdout, r, o.consoleLines)
		results, code = []*kernelResult{r}, r.code
	} else {
		results, code = runMatrix(ctx, sh, ts, jobs)
	}
	if o.bundle != "" {
		if err := writeBundle(o, results); err != nil {
			say("could not write the bundle: %v", err)
			code = max(code, exitInfra)
		} else {
			say("bundle: %s (replay it with: tar -xzf %s && sh cnlab-bundle/replay.sh)", o.bundle, filepath.Base(o.bundle))
		}
	}
	if len(ts) == 1 && len(results[0].suites) > 0 {
		// The last line, in the form CI systems read.
		c := results[0].counts
		fmt.Printf("e2e: %d passed, %d failed, %d skipped\n", c.Passed, c.Failed, c.Skipped)
	}
	return code, nil
}

// runMatrix runs the kernels, jobs at a time, each logging to its own
// directory, prints each one's results as it ends, then the matrix.
func runMatrix(ctx context.Context, sh *shared, ts []target, jobs int) ([]*kernelResult, int) {
	say("running %d kernels, %d at a time, %d CPUs each", len(ts), jobs, sh.cpus)
	start := time.Now()
	results := make([]*kernelResult, len(ts))
	var printMu sync.Mutex
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			dir := filepath.Join(sh.o.src, "build", t.Release)
			_ = os.MkdirAll(dir, 0o755)
			logPath := filepath.Join(dir, "run.log")
			printMu.Lock()
			say("%s: started (log: %s)", t.Name, logPath)
			printMu.Unlock()
			var log io.Writer = io.Discard
			if f, err := os.Create(logPath); err == nil {
				defer f.Close()
				log = f
			}
			r := runKernel(ctx, sh, t, log)
			results[i] = r
			var buf bytes.Buffer
			printResult(&buf, r, sh.o.consoleLines)
			printMu.Lock()
			defer printMu.Unlock()
			fmt.Printf("\n==== %s (%s) ====\n%s", t.Name, t.Release, buf.String())
		}()
	}
	wg.Wait()
	return results, printMatrix(os.Stdout, results, time.Since(start))
}

func printMatrix(w io.Writer, results []*kernelResult, elapsed time.Duration) int {
	fmt.Fprintf(w, "\nmatrix: kernel x suite\n")
	fmt.Fprintf(w, "%-10s %-26s %-12s %6s %6s %7s %8s  %s\n", "kernel", "release", "suite", "passed", "failed", "skipped", "time", "verdict")
	code := exitPassed
	var total report.Counts
	for _, r := range results {
		code = max(code, r.code)
		verdict := "could not run"
		if r.out != nil {
			verdict = r.out.Verdict.String()
		}
		if len(r.suites) == 0 {
			fmt.Fprintf(w, "%-10s %-26s %-12s %6s %6s %7s %7.1fs  %s\n", r.t.Name, r.t.Release, "(no suite report)", "-", "-", "-", r.elapsed.Seconds(), verdict)
		}
		for _, s := range r.suites {
			c := s.Counts()
			name := strings.TrimSuffix(s.Name, " on "+r.t.Release)
			fmt.Fprintf(w, "%-10s %-26s %-12s %6d %6d %7d %7.1fs  %s\n", r.t.Name, r.t.Release, name, c.Passed, c.Failed, c.Skipped, r.elapsed.Seconds(), verdict)
		}
		total.Passed += r.counts.Passed
		total.Failed += r.counts.Failed
		total.Skipped += r.counts.Skipped
	}
	fmt.Fprintf(w, "matrix wall time %.1fs, exit code %d\n", elapsed.Seconds(), code)
	fmt.Fprintf(w, "e2e: %d passed, %d failed, %d skipped\n", total.Passed, total.Failed, total.Skipped)
	return code
}

// runKernel builds the module for t, boots t with the job and collects the
// results. Progress goes to w.
func runKernel(ctx context.Context, sh *shared, t target, w io.Writer) *kernelResult {
	o := sh.o
	start := time.Now()
	r := &kernelResult{t: t, src: o.src, dir: filepath.Join(o.src, "build", t.Release), code: exitInfra}
	defer func() { r.elapsed = time.Since(start) }()
	fail := func(err error) *kernelResult {
		r.err = err
		writeResults(r, report.Verdict{Reason: "could not run: " + err.Error()})
		return r
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fail(err)
	}
	fmt.Fprintf(w, "cnlab-vm: kernel %s (%s), build tree %s\n", t.Release, t.Image, t.KDIR)
	ko, err := vm.BuildModule(o.src, t.KDIR, filepath.Join(r.dir, "kmod"))
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(w, "cnlab-vm: built the module in %.1fs\n", time.Since(start).Seconds())

	mods, err := guestModules(ko, t, r.dir)
	if err != nil {
		return fail(err)
	}
	job := guest.Job{Modules: append(mods, guest.Module{Path: "/lib/cnlab/cnlab.ko", Name: "cnlab", Params: o.modParams})}
	job.Steps = steps(o)
	initramfs := filepath.Join(r.dir, "initramfs.gz")
	if err := writeInitramfs(initramfs, sh.bins, ko, r.dir, &job, o.add); err != nil {
		return fail(err)
	}

	m := vm.Machine{QEMU: o.qemu, Kernel: t.Image, Initramfs: initramfs, Memory: o.memory, CPUs: sh.cpus,
		Accel: sh.accel, InstructionClock: sh.icount, Append: strings.Fields(o.kernelArgs)}
	consoleLog := filepath.Join(r.dir, "console.log")
	fmt.Fprintf(w, "cnlab-vm: booting %s under QEMU (%s, %d CPUs, %s); console log: %s\n", t.Release, sh.accel, sh.cpus, o.memory, consoleLog)
	run := vm.Run{Machine: m, BootTimeout: o.bootTimeout, RunTimeout: o.timeout, ConsoleLog: consoleLog, Progress: w}
	out, err := run.Boot(ctx)
	if err != nil {
		return fail(err)
	}
	r.out = out
	conclude(r)
	return r
}

// guestModules finds what the cnlab module needs from the kernel's own
// modules (nothing on Debian's kernels, where the connector is built in),
// and copies it, uncompressed, next to the initramfs.
func guestModules(ko string, t target, dir string) ([]guest.Module, error) {
	names, err := vm.ModuleDepends(ko)
	if err != nil {
		return nil, err
	}
	deps, err := vm.ResolveModules(names, t.ModulesDir)
	if err != nil {
		return nil, err
	}
	var mods []guest.Module
	for _, d := range deps {
		host := filepath.Join(dir, "modules", d.Name+".ko")
		_ = os.MkdirAll(filepath.Dir(host), 0o755)
		if err := vm.DecompressModule(d.Path, host); err != nil {
			return nil, err
		}
		mods = append(mods, guest.Module{Path: "/lib/modules/" + d.Name + ".ko", Name: d.Name})
	}
	return mods, nil
}

// The probes' records in the guest, with -trace.
const guestTrace = "/tmp/probe-records.jsonl.gz"

// steps are what the guest runs: the suites, the benchmark, or -exec; with
// -trace (or -bundle), the probes record everything beside them.
func steps(o *options) []guest.Step {
	job := jobSteps(o)
	if (!o.trace && o.bundle == "") || o.bench {
		return job
	}
	return append([]guest.Step{
		{Name: "trace", Argv: []string{"/bin/cnctl", "trace", "-json", "-o", guestTrace}, Background: true, StopAtEnd: true, Collect: []string{guestTrace}},
		{Name: "trace-ready", Argv: []string{"@waitfile", guestTrace, "60s"}},
	}, job...)
}

func jobSteps(o *options) []guest.Step {
	switch {
	case len(o.exec) > 0:
		var steps []guest.Step
		for i, cmd := range o.exec {
			argv := strings.Fields(cmd)
			bg := len(argv) > 1 && argv[len(argv)-1] == "&"
			if bg {
				argv = argv[:len(argv)-1]
			}
			steps = append(steps, guest.Step{Name: fmt.Sprintf("exec%d", i+1), Argv: argv, Background: bg})
		}
		return steps
	case o.bench:
		return []guest.Step{{Name: "bench", Argv: []string{"/bin/cnctl", "bench", "-ref", "/bin/cn_echo_ref", "-probes"}}}
	}
	argv := []string{"/bin/e2e.test", "-ginkgo.v", "-ginkgo.no-color", "-ginkgo.json-report=" + guestReport}
	if o.labels != "" {
		argv = append(argv, "-ginkgo.label-filter="+o.labels)
	}
	if o.focus != "" {
		argv = append(argv, "-ginkgo.focus="+o.focus)
	}
	argv = append(argv, strings.Fields(o.suiteArgs)...)
	return []guest.Step{{Name: "e2e", Argv: argv, Collect: []string{guestReport}}}
}

// conclude reads the suites' reports out of a finished run and settles its
// exit code.
func conclude(r *kernelResult) {
	out := r.out
	for _, s := range out.Steps {
		for name, b := range s.Files {
			if name != guestReport {
				_ = os.WriteFile(filepath.Join(r.dir, filepath.Base(name)), b, 0o644)
			}
		}
		b, ok := s.Files[guestReport]
		if !ok {
			continue
		}
		_ = os.WriteFile(filepath.Join(r.dir, "e2e-report.json"), b, 0o644)
		parsed, err := report.Parse(b)
		if err != nil {
			out.Errors = append(out.Errors, err.Error())
			continue
		}
		r.suites = append(r.suites, parsed...)
	}
	for _, s := range r.suites {
		c := s.Counts()
		r.counts.Passed += c.Passed
		r.counts.Failed += c.Failed
		r.counts.Skipped += c.Skipped
	}
	ranSuites := false
	for _, s := range out.Steps {
		ranSuites = ranSuites || s.Name == "e2e"
	}
	// A previous run's probe records must not pass for this run's.
	if _, ok := stepFiles(out)[guestTrace]; !ok {
		_ = os.Remove(filepath.Join(r.dir, filepath.Base(guestTrace)))
	}
	if ranSuites && out.Verdict == vm.Passed && len(r.suites) == 0 {
		out.Verdict, out.Reason = vm.Failed, "the suites wrote no report"
	}
	writeResults(r, report.Verdict{Passed: out.Verdict == vm.Passed, Reason: out.Verdict.String() + ": " + out.Reason})
	summary, _ := json.Marshal(map[string]any{
		"kernel": out.Kernel, "verdict": out.Verdict.String(), "reason": out.Reason,
		"passed": r.counts.Passed, "failed": r.counts.Failed, "skipped": r.counts.Skipped, "seconds": out.Duration.Seconds(),
	})
	_ = os.WriteFile(filepath.Join(r.dir, "summary.json"), summary, 0o644)
	r.code = map[vm.Verdict]int{vm.Passed: exitPassed, vm.Failed: exitFailed, vm.KernelFailure: exitKernel, vm.InfraFailure: exitInfra}[out.Verdict]
}

// symbolizeTrouble decodes the first kernel trouble's trace into file:line
// when the kernel's debug symbols are installed, and says how to get them
// when not.
func symbolizeTrouble(w io.Writer, r *kernelResult) {
	log, err := os.ReadFile(filepath.Join(r.dir, "console.log"))
	if err != nil {
		return
	}
	trace := vm.TroubleTrace(string(log))
	decode := filepath.Join(r.src, ".cache/linux-source-6.1/scripts/decode_stacktrace.sh")
	out, err := vm.Symbolize(trace, r.t.Release, decode, filepath.Join(r.dir, "kmod"))
	if err != nil {
		fmt.Fprintf(w, "cnlab-vm: the trace is not symbolized: %v\n", err)
		return
	}
	p := filepath.Join(r.dir, "trace-symbolized.txt")
	_ = os.WriteFile(p, []byte(out), 0o644)
	fmt.Fprintf(w, "cnlab-vm: the trace, symbolized (also in %s):\n%s\n", p, out)
}

// writeResults writes the run's results for CI systems: KTAP (the kernel's
// own format) and JUnit XML, in the kernel's directory.
func writeResults(r *kernelResult, v report.Verdict) {
	kernel := r.t.Release
	if r.out != nil && r.out.Kernel != "" {
		kernel = r.out.Kernel
	}
	for name, write := range map[string]func(io.Writer, string, []report.Suite, report.Verdict) error{
		"results.ktap": report.WriteKTAP, "results.junit.xml": report.WriteJUnit,
	} {
		var b bytes.Buffer
		if err := write(&b, kernel, r.suites, v); err == nil {
			_ = os.WriteFile(filepath.Join(r.dir, name), b.Bytes(), 0o644)
		}
	}
}

// printResult writes one kernel's results: specs, trouble, and on failure
// why and the console's tail.
func printResult(w io.Writer, r *kernelResult, consoleLines int) {
	if r.err != nil {
		fmt.Fprintf(w, "cnlab-vm: %s: could not run: %v\n", r.t.Name, r.err)
		return
	}
	out := r.out
	report.Print(w, r.suites)
	for _, t := range out.Trouble {
		fmt.Fprintf(w, "cnlab-vm: kernel %s: %s\n", t.What, t.Line)
	}
	if len(out.Trouble) > 0 {
		symbolizeTrouble(w, r)
	}
	for _, e := range out.Errors {
		fmt.Fprintf(w, "cnlab-vm: guest error: %s\n", e)
	}
	consoleLog := filepath.Join(r.dir, "console.log")
	if out.Verdict != vm.Passed {
		fmt.Fprintf(w, "cnlab-vm: why: %s\n", out.Reason)
		fmt.Fprintf(w, "cnlab-vm: last %d console lines (all in %s):\n%s\n", consoleLines, consoleLog, vm.Tail(consoleLog, consoleLines))
	}
	kernel := out.Kernel
	if kernel == "" {
		kernel = r.t.Release + " (which did not reach /init)"
	}
	fmt.Fprintf(w, "\ncnlab-vm: %s on %s in %.1fs (results in %s: results.ktap, results.junit.xml, console.log)\n", out.Verdict, kernel, out.Duration.Seconds(), r.dir)
}

func probeKVM(ctx context.Context, sh *shared, t target) (bool, error) {
	say("probing KVM with a short boot (once per host)")
	dir := filepath.Join(sh.o.src, "build", "kvm-probe")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	initramfs := filepath.Join(dir, "initramfs.gz")
	if err := writeInitramfs(initramfs, &vm.GuestBinaries{Init: sh.bins.Init}, "", dir, &guest.Job{}, nil); err != nil {
		return false, err
	}
	m := vm.Machine{QEMU: sh.o.qemu, Kernel: t.Image, Initramfs: initramfs, Memory: sh.o.memory, CPUs: 1, Accel: "kvm"}
	r := vm.Run{Machine: m, BootTimeout: 20 * time.Second, RunTimeout: 20 * time.Second, ConsoleLog: filepath.Join(dir, "console.log")}
	out, err := r.Boot(ctx)
	if err != nil {
		return false, err
	}
	return out.Kernel != "", nil
}

func writeInitramfs(path string, bins *vm.GuestBinaries, ko, dir string, job *guest.Job, extra []string) error {
	var r vm.Initramfs
	r.Add(vm.File{Path: "/dev/console", Mode: os.ModeDevice | os.ModeCharDevice | 0o600, Major: 5, Minor: 1})
	for _, d := range []string{"/proc", "/sys", "/tmp", "/dev"} {
		r.Add(vm.File{Path: d, Mode: os.ModeDir | 0o755})
	}
	files := map[string]string{"/init": bins.Init, "/bin/e2e.test": bins.E2E, "/bin/cnctl": bins.Cnctl, "/bin/cn_echo_ref": bins.EchoRef, "/lib/cnlab/cnlab.ko": ko}
	for _, m := range job.Modules {
		if m.Name != "cnlab" {
			files[m.Path] = filepath.Join(dir, "modules", m.Name+".ko")
		}
	}
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

func kvmProbeCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "cnlab", "kvm-probe.json")
}

// stepFiles merges the files every step brought back.
func stepFiles(out *vm.Outcome) map[string][]byte {
	m := map[string][]byte{}
	for _, s := range out.Steps {
		for k, v := range s.Files {
			m[k] = v
		}
	}
	return m
}
