package vm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/vm/guest"
)

// Verdict is how a run ended.
type Verdict int

// Verdicts. A run has exactly one; Interrupted is the user's doing, the
// others the guest's or the host's.
const (
	Passed        Verdict = iota // every step exited 0, the kernel logged no trouble
	Failed                       // a step failed, or /init reported an error
	KernelFailure                // the kernel oopsed, panicked, WARNed, hung a task ...
	InfraFailure                 // the guest did not boot, QEMU failed, a watchdog fired, results were lost
	Interrupted                  // the run was cancelled (Ctrl-C, SIGTERM)
)

func (v Verdict) String() string {
	return [...]string{"passed", "failed", "kernel failure", "infrastructure failure", "interrupted"}[v]
}

// Default timings of a Run.
const (
	// DefaultGrace is how long a guest may go on printing after the
	// console first shows trouble: the rest of the report (its trace)
	// usually follows within a second, even under TCG.
	DefaultGrace = 5 * time.Second
	// DefaultSilenceTimeout ends a run that printed nothing at all, on
	// the console or the results port, for that long. The guest's /init
	// sends a heartbeat every guest.HeartbeatInterval while it runs, so
	// silence means the guest is stuck, not that a step is quiet.
	DefaultSilenceTimeout = 2 * time.Minute
	// DefaultBootTimeout and DefaultRunTimeout are the watchdogs of a Run
	// that sets none.
	DefaultBootTimeout = 90 * time.Second
	DefaultRunTimeout  = 30 * time.Minute
)

// Run is one boot of a Machine with a job.
type Run struct {
	Machine     Machine
	BootTimeout time.Duration // until the guest's /init reports in
	RunTimeout  time.Duration // from then until the job is done
	// SilenceTimeout ends the run when neither the console nor the
	// results port says anything for that long (DefaultSilenceTimeout
	// if zero).
	SilenceTimeout time.Duration
	// Grace is how long the guest may go on after the console first
	// shows kernel trouble (DefaultGrace if zero); then the run ends.
	Grace      time.Duration
	ConsoleLog string // the whole kernel console is written here
	// VngDir is the directory shared with a virtme-ng guest: the runner
	// writes the job there, the guest its events. VngInit is the host path
	// of cnlab-init, which virtme-ng runs as a command.
	VngDir, VngInit string
	// Progress, if set, gets each line of the steps' output as it
	// arrives, and word of kernel trouble as soon as it shows.
	Progress io.Writer
}

// StepResult is what one step of the job gave back.
type StepResult struct {
	Name   string
	Code   int  // the exit code, -1 for a signal
	Exited bool // an exit event came back for it
	Files  map[string][]byte
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
	// TroubleAt is when the first trouble showed on the console, since
	// the run started; zero if none did.
	TroubleAt time.Duration
	// Results is what the results port carried and lost.
	Results ResultsStats
}

// ResultsStats counts what the results port carried.
type ResultsStats struct {
	Events  int // events decoded
	Corrupt int // lines that were not events
	Dropped int // lines over MaxResultsLine, skipped
}

// MaxResultsLine bounds one line on the results port: a collected file
// travels as one line, base64 in JSON.
const MaxResultsLine = 256 << 20

// Boot boots the machine, waits for the job to end, the kernel to report
// trouble, or a watchdog to fire, and returns the outcome. An error means
// the run could not be attempted (QEMU missing, no socket); everything after
// QEMU starts is an Outcome.
func (r *Run) Boot(ctx context.Context) (*Outcome, error) {
	start := time.Now()
	grace, silence, bootTimeout, runTimeout := r.Grace, r.SilenceTimeout, r.BootTimeout, r.RunTimeout
	if grace <= 0 {
		grace = DefaultGrace
	}
	if silence <= 0 {
		silence = DefaultSilenceTimeout
	}
	if bootTimeout <= 0 {
		bootTimeout = DefaultBootTimeout
	}
	if runTimeout <= 0 {
		runTimeout = DefaultRunTimeout
	}
	var args []string
	var ln net.Listener
	if r.Machine.VMM == VMMVng {
		var err error
		if args, err = r.Machine.vngArgs(r.VngDir, r.VngInit); err != nil {
			return nil, fmt.Errorf("boot: %w", err)
		}
		_ = os.Remove(vngEvents(r.VngDir))
	} else {
		// An abstract socket: nothing on the file system to leave
		// behind, whatever ends the runner.
		var nonce [8]byte
		_, _ = rand.Read(nonce[:])
		sock := fmt.Sprintf("cnlab-results-%d-%s", os.Getpid(), hex.EncodeToString(nonce[:]))
		var err error
		if ln, err = net.Listen("unix", "@"+sock); err != nil {
			return nil, fmt.Errorf("boot: listen for the results port: %w", err)
		}
		defer ln.Close()
		if args, err = r.Machine.args(sock); err != nil {
			return nil, fmt.Errorf("boot: %w", err)
		}
	}
	console, err := os.Create(r.ConsoleLog)
	if err != nil {
		return nil, fmt.Errorf("boot: console log: %w", err)
	}
	defer console.Close()
	watch := newConsoleWatch(console)
	var qemuErr bytes.Buffer
	cmd := exec.Command(r.Machine.QEMU, args...)
	cmd.Stdout = watch
	cmd.Stderr = &qemuErr
	// Its own process group, so that a Ctrl-C at the terminal reaches the
	// runner, which then stops QEMU, instead of killing QEMU first; and a
	// parent-death signal, so that QEMU dies with a runner that is killed.
	// (The kernel sends it when the thread that started QEMU exits: Boot
	// must not run on a goroutine locked to its thread.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("boot: start %s: %w (install it with make setup)", r.Machine.QEMU, err)
	}
	q := &qemuProcess{cmd: cmd, exited: make(chan struct{})}
	go func() { q.err = cmd.Wait(); close(q.exited) }()
	defer q.kill()

	events := make(chan guest.Event, 256)
	rd := &resultsReader{done: make(chan struct{})}
	defer close(rd.done)
	if ln != nil {
		go rd.read(ln, cmd.Process.Pid, events)
	} else {
		// virtme-ng's guest appends its events to a file; it is read
		// as it grows, and to its end once the guest is gone.
		gone := make(chan struct{})
		go func() {
			select {
			case <-q.exited:
			case <-rd.done:
			}
			close(gone)
		}()
		go func() {
			defer close(events)
			t := &tailReader{path: vngEvents(r.VngDir), done: gone}
			defer t.Close()
			rd.decode(t, events, MaxResultsLine)
		}()
	}

	out := &Outcome{}
	bootTimer := time.NewTimer(bootTimeout)
	defer bootTimer.Stop()
	var runTimer, graceTimer <-chan time.Time
	silenceTicker := time.NewTicker(time.Second)
	defer silenceTicker.Stop()
	lastEvent := time.Now()
	// Steps may run side by side, so their events interleave.
	stepIndex := map[string]int{}
	step := func(name string) *StepResult {
		i, ok := stepIndex[name]
		if !ok {
			i = len(out.Steps)
			stepIndex[name] = i
			out.Steps = append(out.Steps, StepResult{Name: name, Code: -1, Files: map[string][]byte{}})
		}
		return &out.Steps[i]
	}
	// whatRuns names the steps started and not yet exited, for the
	// watchdogs.
	whatRuns := func() string {
		var names []string
		for _, s := range out.Steps {
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
	finish := func(v Verdict, reason string) (*Outcome, error) {
		out.Verdict, out.Reason = v, reason
		return r.finish(ctx, out, q, rd, console, start)
	}
	// qemuGone settles a run whose QEMU exited before the job was done.
	qemuGone := func() (*Outcome, error) {
		switch {
		case ctx.Err() != nil:
			return finish(Interrupted, "interrupted: "+context.Cause(ctx).Error())
		case q.signaled() != "":
			return finish(InfraFailure, "QEMU was killed by "+q.signaled()+qemuTail(&qemuErr, nil))
		case out.Kernel == "":
			return finish(InfraFailure, "QEMU exited before the guest reached /init"+qemuTail(&qemuErr, q.err)+
				": a kernel that cannot print to ttyS0 or has no ttyS1 stops here; see the console log")
		}
		return finish(InfraFailure, "the guest stopped before its job was done, while "+whatRuns()+" ran"+qemuTail(&qemuErr, q.err))
	}
	exited := (<-chan struct{})(q.exited)
	var drained <-chan time.Time

	for {
		select {
		case <-ctx.Done():
			return finish(Interrupted, "interrupted: "+context.Cause(ctx).Error())
		case <-bootTimer.C:
			return finish(InfraFailure, fmt.Sprintf("boot watchdog: the guest did not reach /init within %v (accelerator %s)", bootTimeout, r.Machine.Accel))
		case <-runTimer:
			return finish(InfraFailure, fmt.Sprintf("run watchdog: %s did not finish within %v", whatRuns(), runTimeout))
		case <-silenceTicker.C:
			quiet := time.Since(lastEvent)
			if c := time.Since(watch.lastOutput()); c < quiet {
				quiet = c
			}
			if quiet >= silence {
				return finish(InfraFailure, fmt.Sprintf("no-output watchdog: neither the console nor the results port said anything for %v while %s ran", silence, whatRuns()))
			}
		case t := <-watch.First:
			out.TroubleAt = time.Since(start)
			graceTimer = time.After(grace)
			if r.Progress != nil {
				fmt.Fprintf(r.Progress, "cnlab-vm: the kernel reports trouble (%s): %s\ncnlab-vm: ending the run in %v, once the report is printed\n", t.What, strings.TrimSpace(t.Line), grace)
			}
		case <-graceTimer:
			return finish(KernelFailure, "")
		case <-exited:
			// What the guest sent before it stopped may still be in
			// flight: read it to the end before deciding.
			exited, drained = nil, time.After(2*time.Second)
			if events == nil {
				return qemuGone()
			}
		case <-drained:
			return qemuGone()
		case e, ok := <-events:
			if !ok {
				events = nil // the port closed; QEMU's exit tells the rest
				if exited == nil {
					return qemuGone()
				}
				continue
			}
			lastEvent = time.Now()
			switch e.Type {
			case guest.EventReady:
				out.Kernel = e.Kernel
				bootTimer.Stop()
				runTimer = time.After(runTimeout)
			case guest.EventStart:
				step(e.Step)
			case guest.EventOut:
				step(e.Step)
				if r.Progress != nil {
					if e.Step == "e2e" || e.Step == "bench" {
						fmt.Fprintln(r.Progress, e.Line)
					} else {
						fmt.Fprintf(r.Progress, "[%s] %s\n", e.Step, e.Line)
					}
				}
			case guest.EventFile:
				step(e.Step).Files[e.Name] = e.Data
			case guest.EventExit:
				s := step(e.Step)
				s.Code, s.Exited = e.Code, true
			case guest.EventError:
				out.Errors = append(out.Errors, e.Msg)
				if r.Progress != nil {
					fmt.Fprintf(r.Progress, "guest: %s\n", e.Msg)
				}
			case guest.EventHeartbeat:
			case guest.EventDone:
				return finish(Passed, "")
			}
		}
	}
}

// finish waits for a powered-off guest's QEMU to exit (killing it if it
// does not), reads the console, and settles the verdict.
func (r *Run) finish(ctx context.Context, out *Outcome, q *qemuProcess, rd *resultsReader, console *os.File, start time.Time) (*Outcome, error) {
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
	_ = console.Sync()
	out.Duration = time.Since(start)
	out.Results = rd.stats()
	log, err := os.ReadFile(r.ConsoleLog)
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
	s := strings.ReplaceAll(lastLines(strings.TrimSpace(stderr.String()), 5), "\n", "; ")
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

// resultsReader accepts QEMU's connection to the results port and decodes
// its lines, counting what it cannot use.
type resultsReader struct {
	events, corrupt, dropped atomic.Int64
	done                     chan struct{} // closed when Boot returns: stop reading
}

func (rd *resultsReader) stats() ResultsStats {
	return ResultsStats{Events: int(rd.events.Load()), Corrupt: int(rd.corrupt.Load()), Dropped: int(rd.dropped.Load())}
}

// read takes the first connection from QEMU's process (anything else on
// the machine could connect to an abstract socket first) and decodes it.
func (rd *resultsReader) read(ln net.Listener, qemuPid int, events chan<- guest.Event) {
	defer close(events)
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		if pid, ok := peerPid(conn); ok && pid != qemuPid {
			conn.Close()
			continue
		}
		go func() { <-rd.done; conn.Close() }()
		rd.decode(conn, events, MaxResultsLine)
		conn.Close()
		return
	}
}

// peerPid is the process at the other end of a unix socket connection.
func peerPid(c net.Conn) (int, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) { cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil || credErr != nil {
		return 0, false
	}
	return int(cred.Pid), true
}

// decode reads lines of at most max bytes; a longer one is skipped to its
// end and counted, and reading goes on.
func (rd *resultsReader) decode(r io.Reader, events chan<- guest.Event, max int) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	over := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !over {
			if len(line)+len(chunk) > max+1 {
				over, line = true, line[:0]
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(bytes.TrimSpace(line)) > 0 || over {
			switch {
			case over:
				rd.dropped.Add(1)
			default:
				var e guest.Event
				if json.Unmarshal(bytes.TrimSpace(line), &e) != nil || e.Type == "" {
					rd.corrupt.Add(1)
				} else {
					rd.events.Add(1)
					select {
					case events <- e:
					case <-rd.done:
						return
					}
				}
			}
		}
		line, over = line[:0], false
		if err != nil {
			return
		}
	}
}

// Tail returns the last n lines of a file, for showing a console log's end.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return strings.ReplaceAll(lastLines(string(b), n), "\r", "")
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
