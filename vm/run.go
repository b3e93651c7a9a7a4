package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cnlab/cnlab/vm/guest"
)

// Verdict is how a run ended.
type Verdict int

// Verdicts, from best to worst.
const (
	Passed        Verdict = iota // every step exited 0, the kernel logged no trouble
	Failed                       // a step failed, or /init reported an error
	KernelFailure                // the kernel oopsed, panicked, WARNed, hung a task ...
	InfraFailure                 // the guest did not boot, or a watchdog fired
)

func (v Verdict) String() string {
	return [...]string{"passed", "failed", "kernel failure", "infrastructure failure"}[v]
}

// Run is one boot of a Machine with a job.
type Run struct {
	Machine     Machine
	BootTimeout time.Duration // until the guest's /init reports in
	RunTimeout  time.Duration // from then until the job is done
	ConsoleLog  string        // the whole kernel console is written here
	// Progress, if set, gets each line of the steps' output as it arrives.
	Progress io.Writer
}

// StepResult is what one step of the job gave back.
type StepResult struct {
	Name  string
	Code  int
	Files map[string][]byte
}

// Outcome is what a run gave back.
type Outcome struct {
	Kernel   string // uname -r in the guest, once /init ran
	Steps    []StepResult
	Errors   []string  // what /init could not do
	Trouble  []Trouble // console lines that fail the run
	Verdict  Verdict
	Reason   string // one line: why the verdict
	Duration time.Duration
}

// Boot boots the machine, waits for the job to end or a watchdog to fire,
// and returns the outcome. An error means the run could not be attempted
// (QEMU missing, no socket); everything after QEMU starts is an Outcome.
func (r *Run) Boot(ctx context.Context) (*Outcome, error) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "cnlab-run-")
	if err != nil {
		return nil, fmt.Errorf("boot: %w", err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "results.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("boot: listen for the results port: %w", err)
	}
	defer ln.Close()

	args, err := r.Machine.args(sock)
	if err != nil {
		return nil, fmt.Errorf("boot: %w", err)
	}
	console, err := os.Create(r.ConsoleLog)
	if err != nil {
		return nil, fmt.Errorf("boot: console log: %w", err)
	}
	defer console.Close()
	var qemuErr bytes.Buffer
	cmd := exec.Command(r.Machine.QEMU, args...)
	cmd.Stdout = console
	cmd.Stderr = &qemuErr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("boot: start %s: %w (install it with make setup)", r.Machine.QEMU, err)
	}
	q := &qemuProcess{cmd: cmd, exited: make(chan struct{})}
	go func() { q.err = cmd.Wait(); close(q.exited) }()
	defer q.kill()

	events := make(chan guest.Event, 256)
	go readEvents(ln, events)

	out := &Outcome{}
	bootTimer := time.NewTimer(r.BootTimeout)
	defer bootTimer.Stop()
	var runTimer <-chan time.Time
	// Steps may run side by side, so their events interleave.
	stepIndex := map[string]int{}
	running := "" // the step heard from last, for the run watchdog
	step := func(name string) *StepResult {
		i, ok := stepIndex[name]
		if !ok {
			i = len(out.Steps)
			stepIndex[name] = i
			out.Steps = append(out.Steps, StepResult{Name: name, Code: -1, Files: map[string][]byte{}})
		}
		running = name
		return &out.Steps[i]
	}
	finish := func(v Verdict, reason string) (*Outcome, error) {
		out.Verdict, out.Reason = v, reason
		return r.finish(out, q, console, start)
	}

	for {
		select {
		case <-ctx.Done():
			return finish(InfraFailure, "interrupted: "+context.Cause(ctx).Error())
		case <-bootTimer.C:
			return finish(InfraFailure, fmt.Sprintf("boot watchdog: the guest did not reach /init within %v (accelerator %s)", r.BootTimeout, r.Machine.Accel))
		case <-runTimer:
			what := "the job"
			if running != "" {
				what = "step " + running
			}
			return finish(InfraFailure, fmt.Sprintf("run watchdog: %s did not finish within %v", what, r.RunTimeout))
		case <-q.exited:
			if out.Kernel == "" {
				return finish(InfraFailure, "QEMU exited before the guest reached /init"+qemuTail(&qemuErr, q.err))
			}
			return finish(Failed, "the guest stopped before its job was done"+qemuTail(&qemuErr, q.err))
		case e, ok := <-events:
			if !ok {
				events = nil // the port closed; QEMU's exit tells the rest
				continue
			}
			switch e.Type {
			case guest.EventReady:
				out.Kernel = e.Kernel
				bootTimer.Stop()
				runTimer = time.After(r.RunTimeout)
			case guest.EventStart:
				step(e.Step)
			case guest.EventOut:
				step(e.Step)
				if r.Progress != nil {
					fmt.Fprintln(r.Progress, e.Line)
				}
			case guest.EventFile:
				step(e.Step).Files[e.Name] = e.Data
			case guest.EventExit:
				step(e.Step).Code = e.Code
				running = ""
			case guest.EventError:
				out.Errors = append(out.Errors, e.Msg)
				if r.Progress != nil {
					fmt.Fprintf(r.Progress, "guest: %s\n", e.Msg)
				}
			case guest.EventDone:
				return finish(Passed, "")
			}
		}
	}
}

// finish waits for a powered-off guest's QEMU to exit (killing it if it
// does not), reads the console, and settles the verdict.
func (r *Run) finish(out *Outcome, q *qemuProcess, console *os.File, start time.Time) (*Outcome, error) {
	if out.Verdict == Passed {
		select {
		case <-q.exited:
		case <-time.After(30 * time.Second):
			out.Errors = append(out.Errors, "the guest did not power off within 30s after its job; killed")
		}
	}
	q.kill()
	_ = console.Sync()
	out.Duration = time.Since(start)
	log, err := os.ReadFile(r.ConsoleLog)
	if err != nil {
		return out, fmt.Errorf("read console log: %w", err)
	}
	out.Trouble = ScanConsole(string(log))

	// The worst thing seen decides; the kernel's word beats the suites'.
	if len(out.Trouble) > 0 && out.Verdict < KernelFailure {
		t := out.Trouble[0]
		out.Verdict = KernelFailure
		out.Reason = fmt.Sprintf("the kernel logged a %s: %s", t.What, strings.TrimSpace(t.Line))
	}
	if out.Verdict == Passed {
		for _, s := range out.Steps {
			if s.Code != 0 {
				out.Verdict, out.Reason = Failed, fmt.Sprintf("step %s exited with %d", s.Name, s.Code)
				break
			}
		}
	}
	if out.Verdict == Passed && len(out.Errors) > 0 {
		out.Verdict, out.Reason = Failed, "guest: "+out.Errors[0]
	}
	return out, nil
}

func qemuTail(stderr *bytes.Buffer, err error) string {
	s := strings.TrimSpace(stderr.String())
	if s == "" && err == nil {
		return ""
	}
	if s == "" {
		return fmt.Sprintf(" (%v)", err)
	}
	return fmt.Sprintf(" (%v: %s)", err, s)
}

// readEvents accepts QEMU's connection to the results port and decodes its
// lines. Lines that are not events (a guest writing to ttyS1 by other means)
// are dropped.
func readEvents(ln net.Listener, events chan<- guest.Event) {
	defer close(events)
	conn, err := ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		var e guest.Event
		if err := json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &e); err != nil {
			continue
		}
		events <- e
	}
}

// Tail returns the last n lines of a file, for showing a console log's end.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return lastLines(string(b), n)
}

// qemuProcess is a running QEMU; exited is closed when it has exited.
type qemuProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// kill stops QEMU if it still runs, and waits for it.
func (q *qemuProcess) kill() {
	select {
	case <-q.exited:
	default:
		_ = q.cmd.Process.Kill()
		<-q.exited
	}
}
