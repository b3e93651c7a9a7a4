package runner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cnlab/cnlab/vm"
	"github.com/cnlab/cnlab/vm/guest"
)

// vngBootTimeout is the least boot watchdog under virtme-ng, whose guest
// starts udev and mounts the host's files before cnlab's /init runs: about
// a minute under TCG on a busy host.
const vngBootTimeout = 4 * time.Minute

func vmmName(vmm string) string {
	if vmm == vm.VMMVng {
		return "virtme-ng"
	}
	return "QEMU"
}

// vngJob prepares a run under virtme-ng: no initramfs, since the guest sees
// the host's files; the job, in a directory shared with the guest, is the
// one cnlab's initramfs would hold, with the files the initramfs would hold
// (the module, the programs, -add's) listed for /init to copy to their
// guest paths in the guest's writable overlay first.
func vngJob(run *vm.Run, m *vm.Machine, job *guest.Job, bins *vm.GuestBinaries, ko, dir string, add []string) error {
	share := filepath.Join(dir, "vng")
	if err := os.MkdirAll(share, 0o755); err != nil {
		return err
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	job.Files = map[string]string{
		"/bin/e2e.test": abs(bins.E2E), "/bin/cnctl": abs(bins.Cnctl), "/bin/cn_echo_ref": abs(bins.EchoRef),
		"/lib/cnlab/cnlab.ko": abs(ko),
	}
	for _, mod := range job.Modules {
		if mod.Name != "cnlab" {
			job.Files[mod.Path] = abs(filepath.Join(dir, "modules", mod.Name+".ko"))
		}
	}
	for _, a := range add {
		host, guestPath, _ := strings.Cut(a, ":")
		job.Files[guestPath] = abs(host)
	}
	b, err := json.Marshal(job)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(share, guest.VngJob), b, 0o644); err != nil {
		return err
	}
	run.VngDir, run.VngInit = abs(share), abs(bins.Init)
	if run.BootTimeout < vngBootTimeout {
		run.BootTimeout = vngBootTimeout
	}
	if strings.TrimSpace(m.QEMU) == "" || m.QEMU == "qemu-system-x86_64" {
		m.QEMU = "vng"
	}
	return nil
}
