package vm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cnlab/cnlab/vm/guest"
)

// Vng boots a Machine with virtme-ng: the host's files, shared read-only,
// and cnlab's /init run as a command; the job and the guest's events go
// through a directory shared read-write.
type Vng struct {
	// Dir is the directory shared with the guest: the runner writes
	// the job there, the guest its events.
	Dir string
	// Init is the host path of cnlab-init, which virtme-ng runs as a
	// command.
	Init string
}

// Name is "virtme-ng".
func (*Vng) Name() string { return "virtme-ng" }

// Command returns vng's arguments and the guest's events file, emptied
// of an earlier run's.
func (v *Vng) Command(m *Machine) ([]string, EventSource, error) {
	args, err := m.vngArgs(v.Dir, v.Init)
	if err != nil {
		return nil, nil, err
	}
	_ = os.Remove(vngEvents(v.Dir))
	return args, &fileEvents{path: vngEvents(v.Dir), stop: make(chan struct{})}, nil
}

// fileEvents is the file virtme-ng's guest appends its events to: it is
// read as it grows, and to its end once the guest is gone.
type fileEvents struct {
	path string
	stop chan struct{}
	once sync.Once
}

func (f *fileEvents) Open(_ int, exited <-chan struct{}) (io.ReadCloser, error) {
	gone := make(chan struct{})
	go func() {
		select {
		case <-exited:
		case <-f.stop:
		}
		close(gone)
	}()
	return &tailReader{path: f.path, done: gone}, nil
}

func (f *fileEvents) Close() error {
	f.once.Do(func() { close(f.stop) })
	return nil
}

// vngArgs returns virtme-ng's arguments: the kernel, run verbosely (the
// kernel console is what it prints), with dir shared read-write for the
// job and its events, and init (the host path of cnlab-init) as the
// command. dir is shared at its own path, named: given only the host's
// path, virtme-ng looks for the guest's path relative to its working
// directory when it shares files over 9p (what it falls back to when
// virtiofsd cannot start, always on Debian 12, whose QEMU virtiofsd
// takes other flags), and refuses a path it does not find there.
func (m *Machine) vngArgs(dir, init string) ([]string, error) {
	if m.Accel != "tcg" && m.Accel != "kvm" {
		return nil, fmt.Errorf("accelerator %q: want tcg or kvm", m.Accel)
	}
	if m.CPUs < 1 {
		return nil, fmt.Errorf("%d CPUs: want at least 1", m.CPUs)
	}
	a := []string{"--run", m.Kernel, "--verbose", "--cpus", fmt.Sprint(m.CPUs), "--memory", m.Memory,
		"--rwdir", dir + "=" + dir, "--cwd", dir, "--exec", init + " -vng " + dir}
	if m.Accel == "tcg" {
		a = append(a, "--disable-kvm")
	}
	// virtme-ng sets the console and panic itself.
	for _, arg := range append([]string{"mitigations=off", "noirqdebug"}, m.Append...) {
		a = append(a, "--append", arg)
	}
	if m.InstructionClock {
		if m.Accel != "tcg" {
			return nil, fmt.Errorf("an instruction clock needs TCG, not %s", m.Accel)
		}
		a = append(a, "--qemu-opts", "-icount shift=0,sleep=off")
	}
	if strings.ContainsAny(dir+init, " '\"") {
		return nil, fmt.Errorf("virtme-ng's command line cannot hold the path %q: use a path without spaces or quotes", dir)
	}
	return a, nil
}

// tailReader reads a file that another writer appends to, as it grows,
// until done is closed: then what is left, and EOF.
type tailReader struct {
	path string
	f    *os.File
	done <-chan struct{}
}

func (t *tailReader) Read(p []byte) (int, error) {
	for {
		if t.f == nil {
			f, err := os.Open(t.path)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return 0, err
			}
			t.f = f
		}
		if t.f != nil {
			n, err := t.f.Read(p)
			if n > 0 || (err != nil && !errors.Is(err, io.EOF)) {
				return n, err
			}
		}
		select {
		case <-t.done:
			if t.f != nil {
				if n, err := t.f.Read(p); n > 0 {
					return n, err
				}
			}
			return 0, io.EOF
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (t *tailReader) Close() error {
	if t.f != nil {
		return t.f.Close()
	}
	return nil
}

// vngEvents is where the guest under virtme-ng writes its events.
func vngEvents(dir string) string { return filepath.Join(dir, guest.VngEvents) }
