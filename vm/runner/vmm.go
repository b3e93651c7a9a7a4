package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cnlab/cnlab/vm"
	"github.com/cnlab/cnlab/vm/build"
	"github.com/cnlab/cnlab/vm/guest"
)

// A launcher is how the runner boots a kernel with one VMM: what the host
// needs for it, and how the job gets into the guest.
type launcher interface {
	// check says what the host lacks to boot with this VMM.
	check(o *Options) error
	// prepare puts the job where the guest finds it, for the run in
	// dir, and sets the machine's VMM.
	prepare(run *vm.Run, m *vm.Machine, job *guest.Job, bins *build.GuestBinaries, ko, dir string, add []string) error
}

// launchers are the VMMs, by the name -vmm takes, as syzkaller's vm/vmimpl
// registers each VMM by its type.
var launchers = map[string]launcher{
	"qemu": qemuLauncher{},
	"vng":  vngLauncher{},
}

// launcherFor returns the VMM that -vmm names ("" is qemu).
func launcherFor(name string) (launcher, error) {
	if name == "" {
		name = "qemu"
	}
	l, ok := launchers[name]
	if !ok {
		var names []string
		for n := range launchers {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("-vmm %q: want %s", name, strings.Join(names, " or "))
	}
	return l, nil
}

// qemuLauncher boots QEMU with cnlab's own initramfs, which holds the job.
type qemuLauncher struct{}

// check finds nothing: a missing QEMU is found when it is started.
func (qemuLauncher) check(*Options) error { return nil }

func (qemuLauncher) prepare(_ *vm.Run, m *vm.Machine, job *guest.Job, bins *build.GuestBinaries, ko, dir string, add []string) error {
	m.VMM = vm.QEMU{}
	m.Initramfs = filepath.Join(dir, "initramfs.gz")
	return writeInitramfs(m.Initramfs, bins, ko, dir, job, add)
}

// vngLauncher boots virtme-ng, with the job in a shared directory.
type vngLauncher struct{}

// vngBinary is virtme-ng's binary: -qemu's, unless it is left at QEMU's.
func vngBinary(qemu string) string {
	if strings.TrimSpace(qemu) == "" || qemu == "qemu-system-x86_64" {
		return "vng"
	}
	return qemu
}

func (vngLauncher) check(o *Options) error {
	if _, err := exec.LookPath(vngBinary(o.QEMU)); err != nil {
		return fmt.Errorf("-vmm vng: %w (install virtme-ng with make setup-vng)", err)
	}
	return nil
}

func (vngLauncher) prepare(run *vm.Run, m *vm.Machine, job *guest.Job, bins *build.GuestBinaries, ko, dir string, add []string) error {
	return vngJob(run, m, job, bins, ko, dir, add)
}

// vngBootTimeout is the least boot watchdog under virtme-ng, whose guest
// starts udev and mounts the host's files before cnlab's /init runs: about
// a minute under TCG on a busy host.
const vngBootTimeout = 4 * time.Minute

// vngJob prepares a run under virtme-ng: no initramfs, since the guest sees
// the host's files; the job, in a directory shared with the guest, is the
// one cnlab's initramfs would hold, with the files the initramfs would hold
// (the module, the programs, -add's) listed for /init to copy to their
// guest paths in the guest's writable overlay first.
func vngJob(run *vm.Run, m *vm.Machine, job *guest.Job, bins *build.GuestBinaries, ko, dir string, add []string) error {
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
	}
	if ko != "" { // none with -target
		job.Files["/lib/cnlab/cnlab.ko"] = abs(ko)
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
	m.VMM = &vm.Vng{Dir: abs(share), Init: abs(bins.Init)}
	if run.BootTimeout < vngBootTimeout {
		run.BootTimeout = vngBootTimeout
	}
	m.QEMU = vngBinary(m.QEMU)
	return nil
}
