package vm

import (
	"context"
	"fmt"
	"io"
	"time"
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
	b, err := r.start()
	if err != nil {
		return nil, fmt.Errorf("boot: %w", err)
	}
	defer b.stop()
	return b.watch(ctx)
}
