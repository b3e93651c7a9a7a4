package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/vm/guest"
	"github.com/cnlab/cnlab/vm/tail"
)

// boot is one Run under way: the VMM's process, the console it prints, the
// guest's events, and what they have said so far.
type boot struct {
	r                                    *Run
	grace, silence, bootTimeout, runTime time.Duration
	started                              time.Time

	console *os.File
	cw      *consoleWatch // the console, watched for trouble as it streams
	vmmErr  bytes.Buffer  // the VMM's stderr
	q       *qemuProcess
	src     EventSource
	rd      *resultsReader
	events  chan guest.Event

	out       Outcome
	stepIndex map[string]int // steps may run side by side: their events interleave
	lastEvent time.Time
}

// start resolves the run's timings, starts the VMM with the console going
// to the log and to the watch, and starts reading the guest's events.
func (r *Run) start() (*boot, error) {
	b := &boot{r: r, started: time.Now(), stepIndex: map[string]int{},
		grace: orDefault(r.Grace, DefaultGrace), silence: orDefault(r.SilenceTimeout, DefaultSilenceTimeout),
		bootTimeout: orDefault(r.BootTimeout, DefaultBootTimeout), runTime: orDefault(r.RunTimeout, DefaultRunTimeout)}
	vmm := r.Machine.VMM
	if vmm == nil {
		vmm = QEMU{}
	}
	args, src, err := vmm.Command(&r.Machine)
	if err != nil {
		return nil, err
	}
	if b.console, err = os.Create(r.ConsoleLog); err != nil {
		src.Close()
		return nil, fmt.Errorf("console log: %w", err)
	}
	b.cw = newConsoleWatch(b.console)
	cmd := exec.Command(r.Machine.QEMU, args...)
	cmd.Stdout = b.cw
	cmd.Stderr = &b.vmmErr
	// Its own process group, so that a Ctrl-C at the terminal reaches the
	// runner, which then stops QEMU, instead of killing QEMU first; and a
	// parent-death signal, so that QEMU dies with a runner that is killed.
	// (The kernel sends it when the thread that started QEMU exits: Boot
	// must not run on a goroutine locked to its thread.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		src.Close()
		b.console.Close()
		return nil, fmt.Errorf("start %s: %w (install it with make setup)", r.Machine.QEMU, err)
	}
	b.q = &qemuProcess{cmd: cmd, exited: make(chan struct{})}
	go func() { b.q.err = cmd.Wait(); close(b.q.exited) }()

	b.src = src
	b.events = make(chan guest.Event, 256)
	b.rd = &resultsReader{done: make(chan struct{})}
	go b.readEvents(cmd.Process.Pid)
	b.lastEvent = time.Now()
	return b, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// readEvents decodes the guest's events until its stream ends, then closes
// b.events.
func (b *boot) readEvents(pid int) {
	defer close(b.events)
	s, err := b.src.Open(pid, b.q.exited)
	if err != nil {
		return
	}
	defer s.Close()
	b.rd.decode(s, b.events, MaxResultsLine)
}

// stop ends what start began: the event reader, the VMM, the console log.
func (b *boot) stop() {
	close(b.rd.done)
	b.q.kill()
	b.console.Close()
	b.src.Close()
}

// watch waits for the first of: the job's end, the kernel's trouble (and
// then the grace), a watchdog, the VMM's exit, the user's interrupt; and
// settles the outcome.
func (b *boot) watch(ctx context.Context) (*Outcome, error) {
	bootTimer := time.NewTimer(b.bootTimeout)
	defer bootTimer.Stop()
	var runTimer, graceTimer <-chan time.Time
	silenceTicker := time.NewTicker(time.Second)
	defer silenceTicker.Stop()
	exited := (<-chan struct{})(b.q.exited)
	events := (<-chan guest.Event)(b.events)
	var drained <-chan time.Time

	for {
		select {
		case <-ctx.Done():
			return b.finish(ctx, Interrupted, "interrupted: "+context.Cause(ctx).Error())
		case <-bootTimer.C:
			return b.finish(ctx, InfraFailure, fmt.Sprintf("boot watchdog: the guest did not reach /init within %v (accelerator %s)", b.bootTimeout, b.r.Machine.Accel))
		case <-runTimer:
			return b.finish(ctx, InfraFailure, fmt.Sprintf("run watchdog: %s did not finish within %v", b.whatRuns(), b.runTime))
		case <-silenceTicker.C:
			if b.quiet() >= b.silence {
				return b.finish(ctx, InfraFailure, fmt.Sprintf("no-output watchdog: neither the console nor the results port said anything for %v while %s ran", b.silence, b.whatRuns()))
			}
		case t := <-b.cw.First:
			b.out.TroubleAt = time.Since(b.started)
			graceTimer = time.After(b.grace)
			if b.r.Progress != nil {
				fmt.Fprintf(b.r.Progress, "cnlab-vm: the kernel reports trouble (%s): %s\ncnlab-vm: ending the run in %v, once the report is printed\n", t.What, strings.TrimSpace(t.Line), b.grace)
			}
		case <-graceTimer:
			return b.finish(ctx, KernelFailure, "")
		case <-exited:
			// What the guest sent before it stopped may still be in
			// flight: read it to the end before deciding.
			exited, drained = nil, time.After(2*time.Second)
			if events == nil {
				return b.gone(ctx)
			}
		case <-drained:
			return b.gone(ctx)
		case e, ok := <-events:
			if !ok {
				events = nil // the port closed; QEMU's exit tells the rest
				if exited == nil {
					return b.gone(ctx)
				}
				continue
			}
			b.lastEvent = time.Now()
			if e.Type == guest.EventReady {
				bootTimer.Stop()
				runTimer = time.After(b.runTime)
			}
			if b.event(e) {
				return b.finish(ctx, Passed, "")
			}
		}
	}
}

// quiet is how long neither the console nor the events said anything.
func (b *boot) quiet() time.Duration {
	quiet := time.Since(b.lastEvent)
	if c := time.Since(b.cw.lastOutput()); c < quiet {
		quiet = c
	}
	return quiet
}

// event takes in one of the guest's events, and says whether the job is
// done.
func (b *boot) event(e guest.Event) (done bool) {
	p := b.r.Progress
	switch e.Type {
	case guest.EventReady:
		b.out.Kernel = e.Kernel
	case guest.EventStart:
		b.step(e.Step)
	case guest.EventOut:
		b.step(e.Step)
		if p != nil {
			if e.Step == "e2e" || e.Step == "bench" {
				fmt.Fprintln(p, e.Line)
			} else {
				fmt.Fprintf(p, "[%s] %s\n", e.Step, e.Line)
			}
		}
	case guest.EventFile:
		b.step(e.Step).Files[e.Name] = e.Data
	case guest.EventExit:
		s := b.step(e.Step)
		s.Code, s.Exited = e.Code, true
	case guest.EventError:
		b.out.Errors = append(b.out.Errors, e.Msg)
		if p != nil {
			fmt.Fprintf(p, "guest: %s\n", e.Msg)
		}
	case guest.EventHeartbeat:
	case guest.EventDone:
		return true
	}
	return false
}

// step is the result of the step of that name, added at its first event.
func (b *boot) step(name string) *StepResult {
	i, ok := b.stepIndex[name]
	if !ok {
		i = len(b.out.Steps)
		b.stepIndex[name] = i
		b.out.Steps = append(b.out.Steps, StepResult{Name: name, Code: -1, Files: map[string][]byte{}})
	}
	return &b.out.Steps[i]
}

// whatRuns names the steps started and not yet exited, for the watchdogs.
func (b *boot) whatRuns() string {
	var names []string
	for _, s := range b.out.Steps {
		if !s.Exited {
			names = append(names, s.Name)
		}
	}
	switch len(names) {
	case 0:
		return "the job"
	case 1:
		return "step " + names[0]
	}
	return "steps " + strings.Join(names, ", ")
}

// gone settles a run whose QEMU exited before the job was done.
func (b *boot) gone(ctx context.Context) (*Outcome, error) {
	q := b.q
	switch {
	case ctx.Err() != nil:
		return b.finish(ctx, Interrupted, "interrupted: "+context.Cause(ctx).Error())
	case q.signaled() != "":
		return b.finish(ctx, InfraFailure, "QEMU was killed by "+q.signaled()+qemuTail(&b.vmmErr, nil))
	case b.out.Kernel == "":
		return b.finish(ctx, InfraFailure, "QEMU exited before the guest reached /init"+qemuTail(&b.vmmErr, q.err)+
			": a kernel that cannot print to ttyS0 or has no ttyS1 stops here; see the console log")
	}
	return b.finish(ctx, InfraFailure, "the guest stopped before its job was done, while "+b.whatRuns()+" ran"+qemuTail(&b.vmmErr, q.err))
}

// finish waits for a powered-off guest's QEMU to exit (killing it if it
// does not), reads the console, and settles the verdict.
func (b *boot) finish(ctx context.Context, v Verdict, reason string) (*Outcome, error) {
	out, q := &b.out, b.q
	out.Verdict, out.Reason = v, reason
	if out.Verdict == Passed {
		select {
		case <-q.exited:
		case <-ctx.Done():
			out.Verdict, out.Reason = Interrupted, "interrupted: "+context.Cause(ctx).Error()
		case <-time.After(30 * time.Second):
			out.Verdict, out.Reason = InfraFailure, "the guest did not power off within 30s after its job; killed"
		}
	}
	q.kill()
	_ = b.console.Sync()
	out.Duration = time.Since(b.started)
	out.Results = b.rd.stats()
	log, err := os.ReadFile(b.r.ConsoleLog)
	if err != nil {
		return out, fmt.Errorf("read console log: %w", err)
	}
	out.Trouble = ScanConsole(string(log))

	// The kernel's word beats everything but the user's Ctrl-C: trouble
	// on the console explains a failed step, a hang or a guest that
	// stopped early.
	if len(out.Trouble) > 0 && out.Verdict != Interrupted {
		t := out.Trouble[0]
		out.Verdict = KernelFailure
		out.Reason = fmt.Sprintf("the kernel logged a %s: %s", t.What, strings.TrimSpace(t.Line))
		return out, nil
	}
	if out.Verdict != Passed {
		return out, nil
	}
	if n := out.Results.Corrupt + out.Results.Dropped; n > 0 {
		out.Verdict, out.Reason = InfraFailure, fmt.Sprintf("the results port lost %d line(s) (%d not events, %d over %d MiB): the results are incomplete", n, out.Results.Corrupt, out.Results.Dropped, MaxResultsLine>>20)
		return out, nil
	}
	for _, s := range out.Steps {
		if !s.Exited {
			out.Verdict, out.Reason = InfraFailure, fmt.Sprintf("no exit status came back for step %s: the results are incomplete", s.Name)
			return out, nil
		}
	}
	for _, s := range out.Steps {
		if s.Code != 0 {
			how := fmt.Sprintf("exited with %d", s.Code)
			if s.Code < 0 {
				how = "was killed by a signal"
			}
			out.Verdict, out.Reason = Failed, fmt.Sprintf("step %s %s", s.Name, how)
			return out, nil
		}
	}
	if len(out.Errors) > 0 {
		out.Verdict, out.Reason = Failed, "guest: "+out.Errors[0]
	}
	return out, nil
}

func qemuTail(stderr *bytes.Buffer, err error) string {
	s := strings.ReplaceAll(tail.Lines(strings.TrimSpace(stderr.String()), 5), "\n", "; ")
	if s == "" && err == nil {
		return ""
	}
	if s == "" {
		return fmt.Sprintf(" (%v)", err)
	}
	if err == nil {
		return fmt.Sprintf(" (%s)", s)
	}
	return fmt.Sprintf(" (%v: %s)", err, s)
}

// qemuProcess is a running QEMU; exited is closed when it has exited.
type qemuProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// signaled names the signal that killed QEMU, if one did and it was not
// the runner's own kill.
func (q *qemuProcess) signaled() string {
	var ee *exec.ExitError
	if !errors.As(q.err, &ee) {
		return ""
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return ""
}

// kill stops QEMU and anything it started, if it still runs, and waits.
func (q *qemuProcess) kill() {
	select {
	case <-q.exited:
	default:
		_ = syscall.Kill(-q.cmd.Process.Pid, syscall.SIGKILL)
		<-q.exited
	}
}
