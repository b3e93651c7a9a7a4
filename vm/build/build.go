package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/vm/tail"
)

// Module builds kmod/ from the source tree src against the prepared
// kernel build tree kdir, out of tree in outDir (one per kernel, so that
// kernels never share objects). It returns the path of cnlab.ko. The
// build's output is kept in outDir/build.log. makeArgs go to make, e.g.
// GCOV_PROFILE=y.
func Module(ctx context.Context, src, kdir, outDir string, makeArgs ...string) (string, error) {
	if err := os.RemoveAll(outDir); err != nil {
		return "", fmt.Errorf("build module: %w", err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("build module: %w", err)
	}
	srcs, err := filepath.Glob(filepath.Join(src, "kmod", "*"))
	if err != nil {
		return "", fmt.Errorf("build module: %w", err)
	}
	for _, f := range srcs {
		base := filepath.Base(f)
		if !(strings.HasSuffix(base, ".c") || strings.HasSuffix(base, ".h") || base == "Kbuild") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("build module: %w", err)
		}
		if err := os.WriteFile(filepath.Join(outDir, base), b, 0o644); err != nil {
			return "", fmt.Errorf("build module: %w", err)
		}
	}
	if err := kbuild(ctx, kdir, outDir, makeArgs); err != nil {
		return "", err
	}
	return filepath.Join(outDir, "cnlab.ko"), nil
}

// kbuild runs Kbuild on the module sources in outDir against kdir, with
// W=1 and makeArgs, keeping its output in outDir/build.log. A build that
// ran and failed is a *ModuleError.
func kbuild(ctx context.Context, kdir, outDir string, makeArgs []string) error {
	abs, err := filepath.Abs(outDir)
	if err != nil {
		return fmt.Errorf("build module: %w", err)
	}
	args := append([]string{"-C", kdir, "M=" + abs, "W=1"}, makeArgs...)
	cmd := groupCommand(ctx, "make", append(args, "modules")...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	runErr := cmd.Run()
	logPath := filepath.Join(outDir, "build.log")
	_ = os.WriteFile(logPath, log.Bytes(), 0o644)
	var exitErr *exec.ExitError
	if runErr != nil && ctx.Err() == nil && errors.As(runErr, &exitErr) {
		return &ModuleError{
			Err:   fmt.Errorf("the module does not build against %s: %v (log: %s)\n%s", kdir, runErr, logPath, tail.Lines(log.String(), 20)),
			First: FirstError(log.String()),
			Log:   logPath,
		}
	}
	if runErr != nil {
		return fmt.Errorf("build module against %s: %w (log: %s)", kdir, runErr, logPath)
	}
	return nil
}

// ModuleError is a module build that ran and failed: the source does
// not build against that kernel (not a missing tool or tree).
type ModuleError struct {
	Err error
	// First is the build's first error line (FirstError), the one to
	// show a user; Log is the whole build's output.
	First, Log string
}

func (e *ModuleError) Error() string { return e.Err.Error() }
func (e *ModuleError) Unwrap() error { return e.Err }

// groupCommand is a build command in a process group of its own: a Ctrl-C
// at the terminal reaches the runner alone, and cancelling ctx kills the
// whole build (make and its compilers), not make alone.
func groupCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// GuestBinaries are the programs a guest runs, built for any kernel.
type GuestBinaries struct {
	Init, E2E, Cnctl, EchoRef string
}

// Guest builds the static guest programs from src into outDir:
// /init, the e2e suite (go test -c), cnctl, and the C reference client.
func Guest(ctx context.Context, src, outDir string) (*GuestBinaries, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("build guest binaries: %w", err)
	}
	abs, err := filepath.Abs(outDir)
	if err != nil {
		return nil, err
	}
	g := &GuestBinaries{
		Init:    filepath.Join(abs, "cnlab-init"),
		E2E:     filepath.Join(abs, "e2e.test"),
		Cnctl:   filepath.Join(abs, "cnctl"),
		EchoRef: filepath.Join(abs, "cn_echo_ref"),
	}
	steps := [][]string{
		{"go", "build", "-trimpath", "-o", g.Init, "./vm/cmd/cnlab-init"},
		{"go", "build", "-trimpath", "-o", g.Cnctl, "./userspace/cmd/cnctl"},
		{"go", "test", "-c", "-trimpath", "-o", g.E2E, "./e2e"},
		{"gcc", "-O2", "-static", "-Wall", "-Wextra", "-o", g.EchoRef, "userspace/bench/cn_echo_ref.c"},
	}
	for _, s := range steps {
		cmd := groupCommand(ctx, s[0], s[1:]...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build guest binaries: %s: %v\n%s", strings.Join(s, " "), err, tail.Lines(string(out), 20))
		}
	}
	return g, nil
}
