package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// KVMProbe boots a guest under KVM and reports whether it reached /init.
type KVMProbe func(ctx context.Context) (bool, error)

// ChooseAccel resolves an accelerator mode: "tcg" and "kvm" are taken as
// they are; "auto" takes KVM only if /dev/kvm opens and a probe boot under
// KVM reached /init, since on some hosts /dev/kvm exists and a guest hangs
// at boot. The probe's answer is cached in cacheFile, keyed by the host
// kernel and the QEMU binary, so that a host pays for it once. The note says
// what was chosen and why.
func ChooseAccel(ctx context.Context, mode, qemu, cacheFile string, probe KVMProbe) (accel, note string, err error) {
	switch mode {
	case "tcg", "kvm":
		return mode, "as asked", nil
	case "auto":
	default:
		return "", "", fmt.Errorf("accelerator %q: want auto, kvm or tcg", mode)
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg", fmt.Sprintf("/dev/kvm unusable (%v); -accel kvm to force", err), nil
	}
	f.Close()

	key := probeKey(qemu)
	var cached struct {
		Key   string `json:"key"`
		Works bool   `json:"works"`
	}
	if b, err := os.ReadFile(cacheFile); err == nil && json.Unmarshal(b, &cached) == nil && cached.Key == key {
		if cached.Works {
			return "kvm", "a KVM probe boot on this host reached /init (cached in " + cacheFile + ")", nil
		}
		return "tcg", "a KVM probe boot on this host hung (cached in " + cacheFile + "; delete it to probe again, or -accel kvm to force)", nil
	}
	works, err := probe(ctx)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		// Not cached: an interrupted or failed probe says nothing of KVM.
		return "", "", fmt.Errorf("KVM probe boot: %w", err)
	}
	cached.Key, cached.Works = key, works
	if b, err := json.Marshal(cached); err == nil {
		_ = os.MkdirAll(filepath.Dir(cacheFile), 0o755)
		_ = os.WriteFile(cacheFile, b, 0o644)
	}
	if works {
		return "kvm", "a KVM probe boot reached /init", nil
	}
	return "tcg", "a KVM probe boot did not reach /init in time: falling back to TCG (-accel kvm to force)", nil
}

func probeKey(qemu string) string {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	size := int64(-1)
	if p, err := exec.LookPath(qemu); err == nil {
		if st, err := os.Stat(p); err == nil {
			size = st.Size()
		}
	}
	return strings.Join([]string{unix.ByteSliceToString(uts.Release[:]), unix.ByteSliceToString(uts.Version[:]), qemu, fmt.Sprint(size)}, "|")
}
