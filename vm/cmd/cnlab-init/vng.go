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
	runJob(r, filepath.Join(dir, guest.VngJob))
	return 0
}
