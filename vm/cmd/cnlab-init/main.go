//go:build linux

// Command cnlab-init is the /init of cnlab's guests: it mounts what the
// suites need, loads the job's modules, runs its steps and sends their
// output, files and exit codes to the host on the results port, then
// unloads the modules and powers the guest off. See package vm/guest.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/vm/guest"
)

// results sends events to the host; safe for concurrent use.
type results struct {
	mu   sync.Mutex
	port *os.File
	enc  *json.Encoder
	file bool // port is a file (under virtme-ng), not a serial port
}

func (r *results) send(e guest.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enc.Encode(e); err != nil {
		fmt.Fprintf(os.Stderr, "cnlab-init: results port: %v\n", err)
	}
}

func (r *results) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(os.Stderr, "cnlab-init: %s\n", msg)
	r.send(guest.Event{Type: guest.EventError, Msg: msg})
}

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "@") {
		os.Exit(builtin(os.Args[1], os.Args[2:]))
	}
	if len(os.Args) == 3 && os.Args[1] == "-vng" {
		os.Exit(vngMain(os.Args[2]))
	}
	defer powerOff()
	// Steps' commands are looked up on this PATH, as a shell would.
	_ = os.Setenv("PATH", guestPath)
	mountAll()
	if err := loopbackUp(); err != nil {
		fmt.Fprintf(os.Stderr, "cnlab-init: %v\n", err)
	}
	if hang, _ := os.ReadFile("/proc/cmdline"); strings.Contains(string(hang), "cnlab.hang=boot") {
		// For the runner's own tests: an init that never reports in.
		// (It sleeps: with no goroutine runnable, a bare select would
		// make the Go runtime abort, and the kernel panic.)
		for {
			time.Sleep(time.Hour)
		}
	}
	port, err := openRawPort(guest.ResultsPort)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cnlab-init: %v\n", err)
		return
	}
	r := &results{port: port, enc: json.NewEncoder(port)}
	defer func() {
		if p := recover(); p != nil {
			r.errorf("cnlab-init panicked: %v", p)
		}
	}()

	runJob(r, guest.JobPath)
}

// runJob reports in, runs the job at jobPath and reports its end; the
// caller powers off.
func runJob(r *results, jobPath string) {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	r.send(guest.Event{Type: guest.EventReady, Kernel: unix.ByteSliceToString(uts.Release[:])})
	cmdline, _ := os.ReadFile("/proc/cmdline")
	if !strings.Contains(string(cmdline), "cnlab.heartbeat=off") { // off: for the runner's own tests
		go func() {
			for range time.Tick(guest.HeartbeatInterval) {
				r.send(guest.Event{Type: guest.EventHeartbeat})
			}
		}()
	}

	job, err := readJob(jobPath)
	if err != nil {
		r.errorf("%v", err)
		r.send(guest.Event{Type: guest.EventDone})
		r.drain()
		return
	}
	kmemleakClear()
	loaded, err := loadModules(job.Modules)
	syms := moduleSymbols(loaded)
	if err != nil {
		r.errorf("%v", err)
	} else {
		var background sync.WaitGroup
		foregroundDone := make(chan struct{})
		for _, s := range job.Steps {
			if s.Background {
				var stop <-chan struct{}
				if s.StopAtEnd {
					stop = foregroundDone
				}
				background.Add(1)
				go func() {
					defer background.Done()
					runStep(r, s, stop)
				}()
				continue
			}
			runStep(r, s, nil)
		}
		close(foregroundDone)
		background.Wait()
	}
	unloadModules(r, loaded, unix.DeleteModule)
	// After the unload: what the modules leaked, and their coverage.
	kmemleakScan(r, syms)
	sendCoverage(r)
	r.send(guest.Event{Type: guest.EventDone})
	r.drain()
}

// unloadModules unloads the modules loaded, in reverse order, with
// deleteModule (unix.DeleteModule, or a test's fake), as a step of its own,
// "unload", like the kmemleak scan and the coverage after it. A module
// already gone was unloaded by the job's own steps (a reproducer of an
// unload bug runs rmmod): that is said, and is no error, so that the run
// is judged by the job's steps and the kernel. A module that does not
// unload fails the step and is a guest error.
func unloadModules(r *results, loaded []guest.Module, deleteModule func(name string, flags int) error) {
	if len(loaded) == 0 {
		return
	}
	const step = "unload"
	code := 0
	r.send(guest.Event{Type: guest.EventStart, Step: step})
	for i := len(loaded) - 1; i >= 0; i-- {
		name := loaded[i].Name
		err := deleteModule(name, unix.O_NONBLOCK)
		switch {
		case err == nil:
		case errors.Is(err, unix.ENOENT):
			r.send(guest.Event{Type: guest.EventOut, Step: step,
				Line: fmt.Sprintf("module %s was already unloaded, by the job's own steps: nothing to unload", name)})
		default:
			code = 1
			msg := fmt.Sprintf("unload module %s: %v", name, err)
			r.send(guest.Event{Type: guest.EventOut, Step: step, Line: msg})
			r.errorf("%s", msg)
		}
	}
	r.send(guest.Event{Type: guest.EventExit, Step: step, Code: code})
}

// drain waits until the results port has sent everything (tcdrain), so that
// powering off loses nothing.
func (r *results) drain() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file {
		if err := r.port.Sync(); err != nil {
			fmt.Fprintf(os.Stderr, "cnlab-init: sync results file: %v\n", err)
		}
		return
	}
	if err := unix.IoctlSetInt(int(r.port.Fd()), unix.TCSBRK, 1); err != nil {
		fmt.Fprintf(os.Stderr, "cnlab-init: drain results port: %v\n", err)
	}
}

func mountAll() {
	mounts := []struct {
		fstype, target string
		required       bool
	}{
		{"proc", "/proc", true},
		{"sysfs", "/sys", true},
		{"devtmpfs", "/dev", true},
		{"tmpfs", "/tmp", true},
		{"tracefs", "/sys/kernel/tracing", false},
		{"debugfs", "/sys/kernel/debug", false},
		{"bpf", "/sys/fs/bpf", false},
	}
	for _, m := range mounts {
		_ = os.MkdirAll(m.target, 0o755)
		if err := unix.Mount(m.fstype, m.target, m.fstype, 0, ""); err != nil && m.required {
			fmt.Fprintf(os.Stderr, "cnlab-init: mount %s on %s: %v\n", m.fstype, m.target, err)
		}
	}
}

// openRawPort opens a serial port with no line discipline processing, so
// that events reach the host byte for byte.
func openRawPort(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open results port: %w (does QEMU give the guest a second serial port?)", err)
	}
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("results port %s: get termios: %w", path, err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t); err != nil {
		return nil, fmt.Errorf("results port %s: set raw mode: %w", path, err)
	}
	return f, nil
}

func readJob(path string) (*guest.Job, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read job: %w", err)
	}
	var job guest.Job
	if err := json.Unmarshal(b, &job); err != nil {
		return nil, fmt.Errorf("parse job %s: %w", path, err)
	}
	return &job, nil
}

// loadModules loads the modules in order and returns those it loaded.
func loadModules(mods []guest.Module) ([]guest.Module, error) {
	var loaded []guest.Module
	for _, m := range mods {
		f, err := os.Open(m.Path)
		if err != nil {
			return loaded, fmt.Errorf("load module: %w", err)
		}
		err = unix.FinitModule(int(f.Fd()), m.Params, 0)
		f.Close()
		if err != nil {
			return loaded, fmt.Errorf("load module %s with params %q: %w (the kernel log on the console says why)", m.Path, m.Params, err)
		}
		loaded = append(loaded, m)
	}
	return loaded, nil
}

// runStep runs one step; closing stop, if not nil, interrupts it.
func runStep(r *results, s guest.Step, stop <-chan struct{}) {
	code := -1
	r.send(guest.Event{Type: guest.EventStart, Step: s.Name})
	defer func() { r.send(guest.Event{Type: guest.EventExit, Step: s.Name, Code: code}) }()

	if len(s.Argv) == 0 {
		r.errorf("step %s has no command", s.Name)
		return
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		r.errorf("step %s: %v", s.Name, err)
		return
	}
	argv := s.Argv
	if strings.HasPrefix(argv[0], "@") {
		// A builtin: this binary, run as a child like any step.
		self, err := os.Executable()
		if err != nil {
			self = "/init"
		}
		argv = append([]string{self}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=/tmp", "TMPDIR=/tmp"}, s.Env...)
	cmd.Dir = "/tmp"
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		code = 127 // as a shell says "command not found"
		r.errorf("step %s: start %s: %v", s.Name, argv[0], err)
		return
	}
	pw.Close()
	exited := make(chan struct{})
	var stopped atomic.Bool
	if stop != nil {
		go func() {
			select {
			case <-stop:
				stopped.Store(true)
				_ = cmd.Process.Signal(os.Interrupt)
			case <-exited:
				return
			}
			select {
			case <-time.After(stopGrace):
				r.errorf("step %s did not stop within %v of SIGINT; killed", s.Name, stopGrace)
				_ = cmd.Process.Kill()
			case <-exited:
			}
		}()
	}
	forwardLines(r, s.Name, pr)
	err = cmd.Wait()
	close(exited)
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
		ws, _ := exitErr.Sys().(syscall.WaitStatus)
		switch {
		case stopped.Load() && ws.Signaled() && ws.Signal() == syscall.SIGINT:
			code = 0 // stopped as asked, once the other steps were done
		case code < 0:
			r.errorf("step %s: %v", s.Name, err) // killed by a signal
		}
	default:
		r.errorf("step %s: %v", s.Name, err)
	}
	for _, path := range s.Collect {
		b, err := os.ReadFile(path)
		if err != nil {
			r.errorf("step %s: collect %s: %v", s.Name, path, err)
			continue
		}
		r.send(guest.Event{Type: guest.EventFile, Step: s.Name, Name: path, Data: b})
	}
}

// forwardLines sends a step's output a line at a time, as it comes. A line
// longer than maxOutLine goes in pieces of that size, so that no line,
// however long, stops the reading (and with it the step, blocked on a full
// pipe).
func forwardLines(r *results, step string, rd io.Reader) {
	br := bufio.NewReaderSize(rd, maxOutLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			r.send(guest.Event{Type: guest.EventOut, Step: step, Line: strings.TrimRight(string(line), "\r\n")})
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF), errors.Is(err, os.ErrClosed):
			return
		default:
			r.errorf("step %s: read output: %v", step, err)
			return
		}
	}
}

const (
	// guestPath is where the guest's programs are.
	guestPath = "/bin:/usr/bin:/sbin:/usr/sbin"
	// maxOutLine is the longest piece of a step's output sent as one line.
	maxOutLine = 64 << 10
	// stopGrace is how long a step stopped with SIGINT has to exit.
	stopGrace = 5 * time.Second
)

func powerOff() {
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Fprintf(os.Stderr, "cnlab-init: power off: %v\n", err)
	}
	for { // init must not exit: the kernel would panic
		time.Sleep(time.Hour)
	}
}
