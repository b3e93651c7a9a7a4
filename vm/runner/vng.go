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
// the host's files; the job, in a directory shared with the guest, names
// the module and the programs by their host paths, and puts the programs'
// directory first on the steps' PATH.
func vngJob(run *vm.Run, m *vm.Machine, job *guest.Job, bins *vm.GuestBinaries, ko, dir string) error {
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
	host := map[string]string{
		"/bin/e2e.test": abs(bins.E2E), "/bin/cnctl": abs(bins.Cnctl), "/bin/cn_echo_ref": abs(bins.EchoRef),
		"/lib/cnlab/cnlab.ko": abs(ko),
	}
	for i, mod := range job.Modules {
		if p, ok := host[mod.Path]; ok {
			job.Modules[i].Path = p
		} else {
			job.Modules[i].Path = abs(filepath.Join(dir, "modules", mod.Name+".ko"))
		}
	}
	for i, s := range job.Steps {
		argv := append([]string(nil), s.Argv...)
		for j, a := range argv {
			if p, ok := host[a]; ok {
				argv[j] = p
			}
		}
		if s.Name == "e2e" {
			// The specs that reload the module, or run cnctl as
			// another user, name them by their paths.
			argv = append(argv, "-cnlab.module="+abs(ko), "-cnlab.cnctl="+abs(bins.Cnctl))
		}
		job.Steps[i].Argv = argv
	}
	job.Path = filepath.Dir(abs(bins.Cnctl))
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
