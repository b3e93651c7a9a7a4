//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/vm/guest"
)

// vngMain runs the job in dir under virtme-ng, which boots the kernel with
// the host's files and runs this program as a command, not as /init: the
// job is dir/job.json, the events go to dir/events.jsonl (a directory the
// host shares read-write), and virtme-ng powers off when it returns.
func vngMain(dir string) int {
	_ = os.Setenv("PATH", guestPath)
	for _, m := range []struct{ fstype, target string }{
		{"tracefs", "/sys/kernel/tracing"}, {"debugfs", "/sys/kernel/debug"}, {"bpf", "/sys/fs/bpf"},
	} {
		var st unix.Statfs_t
		if unix.Statfs(m.target, &st) == nil && st.Type != unix.SYSFS_MAGIC {
			continue // mounted already
		}
		_ = unix.Mount(m.fstype, m.target, m.fstype, 0, "")
	}
	if err := loopbackUp(); err != nil {
		fmt.Fprintf(os.Stderr, "cnlab-init: %v\n", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, guest.VngEvents), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cnlab-init: %v\n", err)
		return 1
	}
	r := &results{port: f, enc: json.NewEncoder(f), file: true}
	// The host reads the file as it grows: make it see what was written.
	go func() {
		for range time.Tick(200 * time.Millisecond) {
			r.mu.Lock()
			_ = f.Sync()
			r.mu.Unlock()
		}
	}()
	jobPath := filepath.Join(dir, guest.VngJob)
	if job, err := readJob(jobPath); err == nil {
		if err := stage(job.Files); err != nil {
			r.errorf("%v", err)
		}
	}
	runJob(r, jobPath)
	return 0
}

// stage copies the host's files to their guest paths, in the guest's
// writable overlay (the host's files stay as they are).
func stage(files map[string]string) error {
	for guestPath, host := range files {
		b, err := os.ReadFile(host)
		if err != nil {
			return fmt.Errorf("stage %s: %w", guestPath, err)
		}
		if err := os.MkdirAll(filepath.Dir(guestPath), 0o755); err != nil {
			return fmt.Errorf("stage %s: %w", guestPath, err)
		}
		if err := os.WriteFile(guestPath+".cnlab-tmp", b, 0o755); err != nil {
			return fmt.Errorf("stage %s: %w (virtme-ng gives the guest a writable overlay on /usr, /lib, /etc, /tmp ...; is the path under one?)", guestPath, err)
		}
		if err := os.Rename(guestPath+".cnlab-tmp", guestPath); err != nil {
			return fmt.Errorf("stage %s: %w", guestPath, err)
		}
	}
	return nil
}
