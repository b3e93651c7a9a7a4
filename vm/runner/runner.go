package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cnlab/cnlab/vm"
	"github.com/cnlab/cnlab/vm/build"
	"github.com/cnlab/cnlab/vm/guest"
	"github.com/cnlab/cnlab/vm/report"
	"github.com/cnlab/cnlab/vm/symbolize"
	"github.com/cnlab/cnlab/vm/tail"
)

// shared is what every kernel's run uses.
type shared struct {
	o      *Options
	host   Host
	bins   *build.GuestBinaries
	accel  string
	cpus   int
	icount bool
}

// instructionClock says whether the guests run on an instruction clock:
// -icount on or off, or auto: on for -bench under TCG, where host time
// swings twofold within minutes and only instruction counts repeat.
func instructionClock(o *Options, accel string) (bool, error) {
	switch o.ICount {
	case "off":
		return false, nil
	case "auto", "":
		return o.Bench && accel == "tcg", nil
	case "on":
		if accel != "tcg" {
			return false, fmt.Errorf("-icount on needs TCG, and the accelerator is %s: pass -accel tcg, or -icount off", accel)
		}
		return true, nil
	default:
		return false, fmt.Errorf("-icount %q: want on, off or auto", o.ICount)
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
	host    Host
	seed    int64
	// bootRetried says why the guest was booted a second time: the
	// emulator's fault at boot (emulatorBootFault), not the kernel's.
	bootRetried string
	// module is the kernel's name of the module the run loaded (cnlab,
	// or -target's), moduleDir where it was built; targetIDs, with
	// -target, its ids as /proc/net/connector prints them.
	module, moduleDir string
	targetIDs         []string
}

// moduleName is the name of the module the run loaded: cnlab unless
// -target said otherwise.
func (r *kernelResult) moduleName() string {
	if r.module == "" {
		return "cnlab"
	}
	return r.module
}

// moduleBuildDir is where the run's module was built.
func (r *kernelResult) moduleBuildDir() string {
	if r.moduleDir == "" {
		return filepath.Join(r.dir, "kmod")
	}
	return r.moduleDir
}

// The path of the suites' report in the guest.
const guestReport = "/tmp/e2e.json"

// Run runs the job the options say on one kernel or a matrix of them, prints
// progress and results on o.Stdout, and returns the exit code (see
// ExitPassed and the others) and, when the run could not be done, why.
func Run(ctx context.Context, o *Options) (int, error) {
	if err := o.Check(); err != nil {
		return ExitUsage, err
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()%1_000_000_000 + 1
	}
	ts, err := targets(o)
	if err != nil {
		return ExitUsage, err
	}
	if err := ensureSourceKernels(ctx, o, ts); err != nil {
		return ExitInfra, err
	}
	var problems []string
	for i := range ts {
		warnings, err := ts[i].prepare(o)
		for _, w := range warnings {
			o.say("%s: warning: %s", ts[i].Name, w)
		}
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	host := describeHost(o)
	// refuse ends a run before any kernel booted, each kernel's results
	// saying why, so that nothing of an earlier run passes for this one's.
	refuse := func(code int, err error) (int, error) {
		for _, t := range ts {
			if t.Release != "" {
				r := &kernelResult{t: t, src: o.Src, dir: filepath.Join(o.OutDir(), t.Release), code: code, err: err, host: host, seed: o.Seed}
				startClean(r.dir)
				writeResults(r, report.Verdict{Reason: "could not run: " + err.Error()})
			}
		}
		return code, err
	}
	if len(problems) > 0 {
		return refuse(ExitInfra, fmt.Errorf("nothing was booted:\n%s", strings.Join(problems, "\n")))
	}
	if err := kernelFiles(ctx, o, ts); err != nil {
		if ctx.Err() != nil {
			return refuse(ExitInterrupted, err)
		}
		return refuse(ExitInfra, err)
	}

	sh := &shared{o: o, host: host}
	if err := o.timed("building the guest's programs", func() (err error) {
		sh.bins, err = build.Guest(ctx, o.Src, filepath.Join(o.OutDir(), "guest"))
		return err
	}); err != nil {
		if ctx.Err() != nil {
			return refuse(ExitInterrupted, errors.New("interrupted while building the guest's programs"))
		}
		return refuse(ExitInfra, err)
	}
	ncpu := runtime.NumCPU()
	jobs := o.Jobs
	if jobs <= 0 || jobs > ncpu {
		jobs = ncpu
	}
	jobs = min(jobs, len(ts))
	sh.cpus = o.CPUs
	if sh.cpus <= 0 {
		sh.cpus = max(1, ncpu/jobs)
	}
	accel, note, err := vm.ChooseAccel(ctx, o.Accel, o.QEMU, kvmProbeCache(), func(ctx context.Context) (bool, error) {
		return probeKVM(ctx, sh, ts[0])
	})
	if err != nil {
		if ctx.Err() != nil {
			return refuse(ExitInterrupted, fmt.Errorf("interrupted while probing KVM: %w", err))
		}
		return refuse(ExitInfra, err)
	}
	sh.accel = accel
	sh.host.Accel = accel
	o.say("accelerator %s: %s", accel, note)
	if sh.icount, err = instructionClock(o, accel); err != nil {
		return ExitUsage, err
	}
	if sh.icount {
		if o.CPUs <= 0 {
			// One CPU: whatever a benchmark's helpers (the probes'
			// reader) do is then paid for by the work measured.
			sh.cpus = 1
		}
		o.say("the guest's clock counts instructions (-icount): one nanosecond per instruction executed, on %d CPU(s); timings are repeatable instruction counts, not host time", sh.cpus)
	}
	if !o.Bench && len(o.Steps) == 0 {
		o.say("the suites' seed is %d (pass -seed %d to run them in the same order with the same random input)", o.Seed, o.Seed)
	}
	sayTarget(o, o.stdout())

	var results []*kernelResult
	code := ExitPassed
	if len(ts) == 1 {
		startClean(filepath.Join(o.OutDir(), ts[0].Release))
		r := runKernel(ctx, sh, ts[0], o.stdout())
		printResult(o.stdout(), r, o.ConsoleLines)
		results, code = []*kernelResult{r}, r.code
	} else {
		results, code = runMatrix(ctx, sh, ts, jobs)
	}
	if o.Bundle != "" {
		if err := writeBundle(o, results); err != nil {
			// The run's own verdict stands: a bundle is a copy of it.
			o.say("could not write the bundle %s: %v (the exit code is still the run's own)", o.Bundle, err)
		} else {
			o.say("bundle: %s (replay it with: tar -xzf %s && sh cnlab-bundle/replay.sh)", o.Bundle, filepath.Base(o.Bundle))
		}
	}
	if len(ts) == 1 && len(results[0].suites) > 0 {
		// The last line, in the form CI systems read.
		c := results[0].counts
		fmt.Fprintf(o.stdout(), "e2e: %d passed, %d failed, %d skipped\n", c.Passed, c.Failed, c.Skipped)
	}
	return code, nil
}

// runMatrix runs the kernels, jobs at a time, each logging to its own
// directory, prints each one's results as it ends, then the matrix. A
// cancelled matrix starts nothing more: kernels still waiting for a slot end
// as interrupted.
func runMatrix(ctx context.Context, sh *shared, ts []target, jobs int) ([]*kernelResult, int) {
	sh.o.say("running %d kernels, %d at a time, %d CPUs each", len(ts), jobs, sh.cpus)
	start := time.Now()
	results := make([]*kernelResult, len(ts))
	var printMu sync.Mutex
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	// Each kernel waits for the one before it in launch order to take its
	// place, so that they start in that order.
	turn := make(chan struct{})
	close(turn)
	for _, i := range launchOrder(ts) {
		t := ts[i]
		mine, next := turn, make(chan struct{})
		turn = next
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-mine:
			case <-ctx.Done():
			}
			select {
			case sem <- struct{}{}:
				close(next)
			case <-ctx.Done():
				close(next)
				results[i] = interruptedBeforeStart(sh, t, &printMu)
				return
			}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				results[i] = interruptedBeforeStart(sh, t, &printMu)
				return
			}
			dir := filepath.Join(sh.o.OutDir(), t.Release)
			startClean(dir)
			logPath := filepath.Join(dir, "run.log")
			printMu.Lock()
			sh.o.say("%s: started (log: %s)", t.Name, logPath)
			printMu.Unlock()
			var log io.Writer = io.Discard
			if f, err := os.Create(logPath); err == nil {
				defer f.Close()
				log = f
			}
			r := runKernel(ctx, sh, t, log)
			results[i] = r
			var buf bytes.Buffer
			printResult(&buf, r, sh.o.ConsoleLines)
			printMu.Lock()
			defer printMu.Unlock()
			fmt.Fprintf(sh.o.stdout(), "\n==== %s (%s) ====\n%s", t.Name, t.Release, buf.String())
		}()
	}
	wg.Wait()
	return results, printMatrix(sh.o.stdout(), results, time.Since(start))
}

// launchOrder is the order in which the matrix starts its kernels: those
// built with KASAN first (their suites take about six times as long under
// TCG, so starting them last would leave the other CPUs idle at the end),
// then the list's order.
func launchOrder(ts []target) []int {
	order := make([]int, len(ts))
	slow := make([]bool, len(ts))
	for i, t := range ts {
		order[i] = i
		b, err := os.ReadFile(t.Config)
		slow[i] = err == nil && bytes.Contains(b, []byte("\nCONFIG_KASAN=y\n"))
	}
	sort.SliceStable(order, func(a, b int) bool { return slow[order[a]] && !slow[order[b]] })
	return order
}

func interruptedBeforeStart(sh *shared, t target, printMu *sync.Mutex) *kernelResult {
	r := &kernelResult{t: t, src: sh.o.Src, dir: filepath.Join(sh.o.OutDir(), t.Release), code: ExitInterrupted,
		err: errors.New("interrupted before it started: nothing built or booted"), host: sh.host, seed: sh.o.Seed}
	startClean(r.dir)
	writeResults(r, report.Verdict{Reason: "could not run: " + r.err.Error()})
	printMu.Lock()
	defer printMu.Unlock()
	sh.o.say("%s: %v", t.Name, r.err)
	return r
}

// startClean empties a kernel's result directory, so that nothing of an
// earlier run (a console, a report, a summary) passes for this run's.
func startClean(dir string) {
	_ = os.RemoveAll(dir)
	_ = os.MkdirAll(dir, 0o755)
}

func printMatrix(w io.Writer, results []*kernelResult, elapsed time.Duration) int {
	fmt.Fprintf(w, "\nmatrix: kernel x suite\n")
	fmt.Fprintf(w, "%-10s %-26s %-12s %6s %6s %7s %8s  %s\n", "kernel", "release", "suite", "passed", "failed", "skipped", "time", "verdict")
	code := ExitPassed
	var total report.Counts
	for _, r := range results {
		code = Worse(code, r.code)
		verdict := r.verdict()
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

// verdict is how the kernel's run ended, in words.
func (r *kernelResult) verdict() string {
	if r.out != nil {
		return r.out.Verdict.String()
	}
	switch r.code {
	case ExitPassed:
		return vm.Passed.String()
	case ExitFailed:
		return vm.Failed.String()
	case ExitKernel:
		return vm.KernelFailure.String()
	case ExitBuild:
		return "module does not build"
	case ExitInterrupted:
		return "interrupted"
	}
	return "could not run"
}

// runKernel builds the module for t, boots t with the job and collects the
// results. Progress goes to w.
func runKernel(ctx context.Context, sh *shared, t target, w io.Writer) *kernelResult {
	o := sh.o
	start := time.Now()
	r := &kernelResult{t: t, src: o.Src, dir: filepath.Join(o.OutDir(), t.Release), code: ExitInfra, host: sh.host, seed: o.Seed}
	defer func() { r.elapsed = time.Since(start) }()
	fail := func(code int, err error) *kernelResult {
		if ctx.Err() != nil {
			code, err = ExitInterrupted, fmt.Errorf("interrupted: %w", err)
		}
		r.code, r.err = code, err
		writeResults(r, report.Verdict{Reason: "could not run: " + err.Error()})
		return r
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fail(ExitInfra, err)
	}
	fmt.Fprintf(w, "cnlab-vm: kernel %s (%s), build tree %s\n", t.Release, t.Image, t.KDIR)
	bm, code, err := buildModule(ctx, o, t, r.dir)
	if err != nil {
		return fail(code, err)
	}
	r.module, r.moduleDir, r.targetIDs = bm.guest.Name, bm.dir, targetIDs(o)
	fmt.Fprintf(w, "cnlab-vm: built the module %s in %.1fs\n", bm.guest.Name, time.Since(start).Seconds())

	mods, err := guestModules(bm.ko, t, r.dir)
	if err != nil {
		return fail(ExitInfra, err)
	}
	job := guest.Job{Modules: append(mods, bm.guest)}
	job.Steps = steps(o)
	ko, add := "", o.Add
	if bm.cnlab {
		ko = bm.ko
	}
	if bm.target != "" {
		add = append(add[:len(add):len(add)], bm.target+":"+guestTarget)
	}
	appendArgs := strings.Fields(o.KernelArgs)
	if o.Strict {
		appendArgs = append(appendArgs, StrictArgs...)
	}
	m := vm.Machine{QEMU: o.QEMU, Kernel: t.Image, Memory: o.Memory, CPUs: sh.cpus,
		Accel: sh.accel, InstructionClock: sh.icount, Append: appendArgs}
	run := vm.Run{BootTimeout: o.BootTimeout, RunTimeout: o.Timeout, SilenceTimeout: o.SilenceTimeout,
		Grace: o.Grace, ConsoleLog: filepath.Join(r.dir, "console.log"), Progress: w}
	l, err := launcherFor(o.VMM)
	if err != nil {
		return fail(ExitUsage, err)
	}
	if err := l.prepare(&run, &m, &job, sh.bins, ko, r.dir, add); err != nil {
		return fail(ExitInfra, err)
	}
	run.Machine = m
	if ctx.Err() != nil {
		return fail(ExitInterrupted, errors.New("before booting"))
	}
	fmt.Fprintf(w, "cnlab-vm: booting %s under %s (%s, %d CPUs, %s); console log: %s\n", t.Release, m.VMM.Name(), sh.accel, sh.cpus, o.Memory, run.ConsoleLog)
	out, err := run.Boot(ctx)
	if err != nil {
		return fail(ExitInfra, err)
	}
	if why := emulatorBootFault(out, sh.accel, sh.cpus); why != "" && ctx.Err() == nil {
		first := strings.TrimSuffix(run.ConsoleLog, ".log") + "-boot1.log"
		_ = os.Rename(run.ConsoleLog, first)
		r.bootRetried = why + " (its console: " + first + ")"
		fmt.Fprintf(w, "cnlab-vm: %s; booting once more (the first console is in %s)\n", why, first)
		if out, err = run.Boot(ctx); err != nil {
			return fail(ExitInfra, err)
		}
	}
	r.out = out
	debugKernel(ctx, r, w)
	conclude(r)
	return r
}

// guestModules finds what the cnlab module needs from the kernel's own
// modules (nothing on Debian's kernels, where the connector is built in),
// and copies it, uncompressed, next to the initramfs.
func guestModules(ko string, t target, dir string) ([]guest.Module, error) {
	names, err := build.ModuleDepends(ko)
	if err != nil {
		return nil, err
	}
	deps, err := build.ResolveModules(names, t.ModulesDir)
	if err != nil {
		return nil, err
	}
	var mods []guest.Module
	for _, d := range deps {
		host := filepath.Join(dir, "modules", d.Name+".ko")
		_ = os.MkdirAll(filepath.Dir(host), 0o755)
		if err := build.DecompressModule(d.Path, host); err != nil {
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
func steps(o *Options) []guest.Step {
	pre := targetSteps(o)
	job := jobSteps(o)
	if (!o.Trace && o.Bundle == "") || o.Bench {
		return append(pre, job...)
	}
	return append(append(pre, []guest.Step{
		// -all: a record of every message, not only of those lost.
		{Name: "trace", Argv: []string{"/bin/cnctl", "trace", "-all", "-json", "-o", guestTrace}, Background: true, StopAtEnd: true, Collect: []string{guestTrace}},
		{Name: "trace-ready", Argv: []string{"@waitfile", guestTrace, "60s"}},
	}...), job...)
}

func jobSteps(o *Options) []guest.Step {
	switch {
	case len(o.Steps) > 0:
		var steps []guest.Step
		for i, e := range o.Steps {
			steps = append(steps, guest.Step{Name: fmt.Sprintf("exec%d", i+1), Argv: e.Argv, Background: e.Background, StopAtEnd: e.StopAtEnd})
		}
		return steps
	case o.Bench:
		return []guest.Step{{Name: "bench", Argv: []string{"/bin/cnctl", "bench", "-ref", "/bin/cn_echo_ref", "-probes", "-loopback"}}}
	}
	argv := []string{"/bin/e2e.test", "-ginkgo.v", "-ginkgo.no-color", "-ginkgo.json-report=" + guestReport}
	if o.Labels != "" && o.target == nil {
		argv = append(argv, "-ginkgo.label-filter="+o.Labels)
	}
	argv = append(argv, targetSuiteArgs(o)...)
	if o.Focus != "" {
		argv = append(argv, "-ginkgo.focus="+o.Focus)
	}
	// The seed fixes the specs' order and the fuzz's input, so that a
	// bundle replays the same run; -suite-args may still set either.
	if !strings.Contains(o.SuiteArgs, "ginkgo.seed") {
		argv = append(argv, fmt.Sprintf("-ginkgo.seed=%d", o.Seed))
	}
	if !strings.Contains(o.SuiteArgs, "cnlab.fuzz-seed") {
		argv = append(argv, fmt.Sprintf("-cnlab.fuzz-seed=%d", o.Seed))
	}
	argv = append(argv, strings.Fields(o.SuiteArgs)...)
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
	// The kernel's word (an oops while loading) beats it.
	if (out.Verdict == vm.Passed || out.Verdict == vm.Failed) && targetVerdict(r) {
		out.Verdict = vm.InfraFailure
	}
	r.code = map[vm.Verdict]int{vm.Passed: ExitPassed, vm.Failed: ExitFailed, vm.KernelFailure: ExitKernel, vm.InfraFailure: ExitInfra, vm.Interrupted: ExitInterrupted}[out.Verdict]
	// The kernel case fails for what the specs cannot say (the console,
	// the watchdogs, the module, the guest's errors), not once more for
	// failed specs.
	kernelOK := out.Verdict == vm.Passed || (out.Verdict == vm.Failed && ranSuites && r.counts.Failed > 0 && len(out.Errors) == 0 && onlySuitesFailed(out))
	writeResults(r, report.Verdict{Passed: kernelOK, Reason: out.Verdict.String() + ": " + out.Reason})
}

// onlySuitesFailed says whether the e2e step is the only step that did not
// exit 0.
func onlySuitesFailed(out *vm.Outcome) bool {
	for _, s := range out.Steps {
		if s.Code != 0 && s.Name != "e2e" {
			return false
		}
	}
	return true
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
	out, err := symbolize.Symbolize(trace, r.t.Release, r.t.KDIR, decode, r.moduleBuildDir())
	if err != nil {
		fmt.Fprintf(w, "cnlab-vm: the trace is not symbolized: %v\n", err)
		return
	}
	p := filepath.Join(r.dir, "trace-symbolized.txt")
	_ = os.WriteFile(p, []byte(out), 0o644)
	fmt.Fprintf(w, "cnlab-vm: the trace, symbolized (also in %s):\n%s\n", p, out)
}

// writeResults writes the run's results for CI systems, KTAP (the kernel's
// own format) and JUnit XML, and summary.json, in the kernel's directory:
// every run writes them, even one that never booted.
func writeResults(r *kernelResult, v report.Verdict) {
	kernel := r.t.Release
	if r.out != nil && r.out.Kernel != "" {
		kernel = r.out.Kernel
	}
	_ = os.MkdirAll(r.dir, 0o755)
	for name, write := range map[string]func(io.Writer, string, []report.Suite, report.Verdict) error{
		"results.ktap": report.WriteKTAP, "results.junit.xml": report.WriteJUnit,
	} {
		var b bytes.Buffer
		if err := write(&b, kernel, r.suites, v); err == nil {
			_ = os.WriteFile(filepath.Join(r.dir, name), b.Bytes(), 0o644)
		}
	}
	s := Summary{Name: r.t.Name, Release: r.t.Release, Kernel: kernel, Image: r.t.Image, ExitCode: r.code, Verdict: r.verdict(),
		Passed: r.counts.Passed, Failed: r.counts.Failed, Skipped: r.counts.Skipped, Seed: r.seed, Host: r.host}
	if r.err != nil {
		s.Reason = r.err.Error()
	}
	s.BootRetried = r.bootRetried
	if out := r.out; out != nil {
		s.Reason, s.Seconds = out.Reason, out.Duration.Seconds()
		s.TroubleSeconds = out.TroubleAt.Seconds()
		s.ResultsLost = out.Results.Corrupt + out.Results.Dropped
		for _, t := range out.Trouble {
			s.Trouble = append(s.Trouble, t.What+": "+strings.TrimSpace(t.Line))
		}
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	_ = os.WriteFile(filepath.Join(r.dir, "summary.json"), append(b, '\n'), 0o644)
}

// printResult writes one kernel's results: specs, trouble, and on failure
// why and the console's tail.
func printResult(w io.Writer, r *kernelResult, consoleLines int) {
	if r.err != nil {
		fmt.Fprintf(w, "cnlab-vm: %s: %s: %v\n", r.t.Name, r.verdict(), r.err)
		return
	}
	out := r.out
	report.Print(w, r.suites)
	for _, t := range out.Trouble {
		fmt.Fprintf(w, "cnlab-vm: kernel %s: %s\n", t.What, t.Line)
	}
	if len(out.Trouble) > 0 {
		if log, err := os.ReadFile(filepath.Join(r.dir, "console.log")); err == nil {
			fmt.Fprintf(w, "cnlab-vm: the kernel's report, first lines:\n%s\n", vm.TroubleReport(string(log), 3, 25))
		}
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
		fmt.Fprintf(w, "cnlab-vm: last %d console lines (all in %s):\n%s\n", consoleLines, consoleLog, tail.File(consoleLog, consoleLines))
	}
	kernel := out.Kernel
	if kernel == "" {
		kernel = r.t.Release + " (which did not reach /init)"
	}
	fmt.Fprintf(w, "\ncnlab-vm: %s on %s in %.1fs (results in %s: results.ktap, results.junit.xml, console.log)\n", out.Verdict, kernel, out.Duration.Seconds(), r.dir)
}

func probeKVM(ctx context.Context, sh *shared, t target) (bool, error) {
	sh.o.say("probing KVM with a short boot (once per host)")
	dir := filepath.Join(sh.o.OutDir(), "kvm-probe")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	initramfs := filepath.Join(dir, "initramfs.gz")
	if err := writeInitramfs(initramfs, &build.GuestBinaries{Init: sh.bins.Init}, "", dir, &guest.Job{}, nil); err != nil {
		return false, err
	}
	m := vm.Machine{QEMU: sh.o.QEMU, Kernel: t.Image, Initramfs: initramfs, Memory: sh.o.Memory, CPUs: 1, Accel: "kvm"}
	r := vm.Run{Machine: m, BootTimeout: 20 * time.Second, RunTimeout: 20 * time.Second, ConsoleLog: filepath.Join(dir, "console.log")}
	out, err := r.Boot(ctx)
	if err != nil {
		return false, err
	}
	if out.Verdict == vm.Interrupted {
		return false, ctx.Err()
	}
	return out.Kernel != "", nil
}

func writeInitramfs(path string, bins *build.GuestBinaries, ko, dir string, job *guest.Job, extra []string) error {
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
