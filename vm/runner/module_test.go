package runner

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cnlab/cnlab/vm"
	"github.com/cnlab/cnlab/vm/build"
	"github.com/cnlab/cnlab/vm/guest"
)

// writeTarget writes a module source directory and a target file for it
// (key = value lines replacing the defaults, "key =" dropping one) and
// returns the file's path.
func writeTarget(t *testing.T, source string, edits ...string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "mod"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "mod", "Kbuild"), []byte("obj-m += tmod.o\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "mod", "tmod.c"), []byte(source), 0o644))
	lines := []string{"version = 1", "module = tmod", "source = mod", "ids = 17:0x1 17:2", "params = bug=none",
		"reply = seqack", "unload-under-traffic = yes", "senders = anyone"}
	for _, e := range edits {
		k, _, _ := strings.Cut(e, "=")
		i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, k) })
		switch {
		case i < 0:
			lines = append(lines, e)
		case strings.TrimSpace(e) == strings.TrimSpace(k)+" =":
			lines = slices.Delete(lines, i, i+1)
		default:
			lines[i] = e
		}
	}
	p := filepath.Join(dir, "tmod.target")
	must(t, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return p
}

const goodModule = "// SPDX-License-Identifier: GPL-2.0\n#include <linux/module.h>\nstatic int __init m_init(void)\n{\n\treturn 0;\n}\nmodule_init(m_init);\nMODULE_LICENSE(\"GPL\");\n"

// TestTargetUsage checks that a -target run that cannot work is refused
// before anything is built, with exit 5 and one line naming the problem.
func TestTargetUsage(t *testing.T) {
	tests := []struct {
		name string
		edit func(o *Options, t *testing.T)
		want string
	}{
		{"a target file that does not parse names its line", func(o *Options, t *testing.T) {
			o.Target = writeTarget(t, goodModule, "reply = echo")
		}, `tmod.target:6: reply "echo": want seqack or none`},
		{"a target file that is not there", func(o *Options, t *testing.T) { o.Target = "/nonexistent/x.target" }, "-target: target: open /nonexistent/x.target: no such file"},
		{"a source directory that is not there", func(o *Options, t *testing.T) {
			o.Target = writeTarget(t, goodModule, "source = nothere")
		}, "tmod.target:3: source nothere: no such directory"},
		{"a target with -bench", func(o *Options, t *testing.T) { o.Target, o.Bench = writeTarget(t, goodModule), true }, "-bench measures cnlab's module, which -target replaces"},
		{"a target with -module-params", func(o *Options, t *testing.T) {
			o.Target, o.ModParams = writeTarget(t, goodModule), "ack_skew=1"
		}, "put the target's in its params line"},
		{"a target with -bundle", func(o *Options, t *testing.T) {
			o.Target, o.Bundle = writeTarget(t, goodModule), "b.tar.gz"
		}, "-bundle cannot replay a -target run yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Kernel: "/boot/vmlinuz-x", Memory: "1G", Accel: "auto", Src: t.TempDir()}
			tt.edit(&o, t)
			code, err := Run(context.Background(), &o)
			if code != ExitUsage || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %d, %v; want exit %d and an error saying %q", code, err, ExitUsage, tt.want)
			}
			if _, err := os.Stat(filepath.Join(o.Src, "build")); err == nil {
				t.Errorf("a refused run built something in %s", o.Src)
			}
		})
	}
}

// TestTargetSteps checks what the guest runs with -target: the check of
// the target's ids first (before the probes' recorder too), then the
// suites told where the target file is and limited to the specs labelled
// target.
func TestTargetSteps(t *testing.T) {
	tests := []struct {
		name       string
		labels     string
		trace      bool
		wantNames  []string
		wantFilter string
	}{
		{"the generic suite", "", false, []string{"target-ids", "e2e"}, "-ginkgo.label-filter=target"},
		{"-labels narrows it", "malformed || replies", false, []string{"target-ids", "e2e"}, "-ginkgo.label-filter=target && (malformed || replies)"},
		{"the ids are checked before the probes record", "", true, []string{"target-ids", "trace", "trace-ready", "e2e"}, "-ginkgo.label-filter=target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &Options{Memory: "1G", Kernel: "/boot/vmlinuz-x", Accel: "auto", Target: writeTarget(t, goodModule), Labels: tt.labels, Trace: tt.trace, Seed: 7}
			if err := o.Check(); err != nil {
				t.Fatal(err)
			}
			s := steps(o)
			var names []string
			for _, st := range s {
				names = append(names, st.Name)
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Fatalf("steps %v, want %v", names, tt.wantNames)
			}
			if want := []string{"@connector-ids", "17:1", "17:2"}; !slices.Equal(s[0].Argv, want) {
				t.Errorf("the ids step runs %q, want %q (decimal, as /proc/net/connector prints them)", s[0].Argv, want)
			}
			if !slices.Equal(s[0].Collect, []string{guest.ConnectorList}) {
				t.Errorf("the ids step collects %q", s[0].Collect)
			}
			e2e := s[len(s)-1].Argv
			if !slices.Contains(e2e, "-cnlab.target=/cnlab/target") || !slices.Contains(e2e, tt.wantFilter) {
				t.Errorf("e2e argv %q lacks -cnlab.target=/cnlab/target or %q", e2e, tt.wantFilter)
			}
			if n := len(slices.DeleteFunc(slices.Clone(e2e), func(a string) bool { return !strings.HasPrefix(a, "-ginkgo.label-filter=") })); n != 1 {
				t.Errorf("e2e argv has %d label filters: %q", n, e2e)
			}
		})
	}
	// Without -target nothing changes.
	o := &Options{Labels: "echo"}
	if s := steps(o); len(s) != 1 || !slices.Contains(s[0].Argv, "-ginkgo.label-filter=echo") || slices.ContainsFunc(s[0].Argv, func(a string) bool { return strings.HasPrefix(a, "-cnlab.target") }) {
		t.Errorf("steps without -target: %+v", s)
	}
}

// TestTargetVerdict checks that ids with no callback after the target's
// module loaded end the run with exit 3 and one line naming them, unless
// the kernel failed first.
func TestTargetVerdict(t *testing.T) {
	list := "Name            ID\ncn_proc         1:1\ntmod            17:1\n"
	tests := []struct {
		name     string
		verdict  vm.Verdict
		code     int
		wantCode int
		wantSays string
	}{
		{"every id has its callback", vm.Passed, 0, ExitPassed, ""},
		{"an id without a callback", vm.Failed, 1, ExitInfra, "the target's module tmod registered no callback on 17:2 (ids idx:val in decimal; /proc/net/connector lists 1:1, 17:1)"},
		{"the kernel's verdict comes first", vm.KernelFailure, 1, ExitKernel, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &vm.Outcome{Verdict: tt.verdict, Reason: "as the guest said", Steps: []vm.StepResult{
				{Name: targetIDsStep, Exited: true, Code: tt.code, Files: map[string][]byte{guest.ConnectorList: []byte(list)}},
			}}
			r := &kernelResult{dir: t.TempDir(), out: out, module: "tmod", targetIDs: []string{"17:1", "17:2"}}
			conclude(r)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d (reason %q)", r.code, tt.wantCode, out.Reason)
			}
			if tt.wantSays != "" && !strings.HasPrefix(out.Reason, tt.wantSays) {
				t.Errorf("reason\n%s\nwant it to start\n%s", out.Reason, tt.wantSays)
			}
		})
	}
}

// TestTargetModuleBuild builds a target's module against the host's
// kernel headers for real and checks what the guest gets: a module that
// does not build is exit 4 with the compiler's first error; one that
// builds goes into the initramfs beside the target file, and cnlab's
// module does not.
func TestTargetModuleBuild(t *testing.T) {
	const kdir = "/lib/modules/6.1.0-56-amd64/build"
	if _, err := os.Stat(filepath.Join(kdir, "Module.symvers")); err != nil {
		t.Skipf("no kernel build tree at %s (make setup installs it)", kdir)
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skipf("cpio lists the initramfs: %v", err)
	}
	kt := target{Name: "6.1", Release: "6.1.0-56-amd64", KDIR: kdir}

	t.Run("does not build: exit 4, the compiler's first error", func(t *testing.T) {
		o := &Options{Memory: "1G", Kernel: "/boot/vmlinuz-x", Accel: "auto", Target: writeTarget(t, strings.Replace(goodModule, "return 0;", "return 0", 1))}
		must(t, o.Check())
		_, code, err := buildModule(context.Background(), o, kt, t.TempDir())
		if code != ExitBuild || err == nil {
			t.Fatalf("buildModule = %d, %v; want exit %d", code, err, ExitBuild)
		}
		msg := strings.NewReplacer("‘", "'", "’", "'").Replace(err.Error())
		want := "the target's module tmod does not build against " + kdir + ": " + filepath.Join(filepath.Dir(o.Target), "mod") + "/tmod.c:5:17: error: expected ';' before '}' token (log: "
		if !strings.HasPrefix(msg, want) {
			t.Errorf("error\n%s\nwant it to start\n%s", msg, want)
		}
		if strings.Count(msg, "\n") > 0 {
			t.Errorf("the error is more than one line:\n%s", msg)
		}
	})

	t.Run("builds: in the initramfs with the target file, cnlab's module not", func(t *testing.T) {
		o := &Options{Memory: "1G", Kernel: "/boot/vmlinuz-x", Accel: "auto", Target: writeTarget(t, goodModule)}
		must(t, o.Check())
		dir := t.TempDir()
		bm, code, err := buildModule(context.Background(), o, kt, dir)
		if err != nil {
			t.Fatalf("buildModule = %d, %v", code, err)
		}
		want := guest.Module{Path: "/lib/cnlab/target/tmod.ko", Name: "tmod", Params: "bug=none"}
		if bm.guest != want || bm.cnlab {
			t.Errorf("the guest loads %+v (cnlab's: %v), want %+v", bm.guest, bm.cnlab, want)
		}
		bins := &build.GuestBinaries{Init: filepath.Join(dir, "init")}
		must(t, os.WriteFile(bins.Init, []byte("init"), 0o755))
		img := filepath.Join(dir, "initramfs.gz")
		must(t, writeInitramfs(img, bins, "", dir, &guest.Job{Modules: []guest.Module{bm.guest}}, []string{bm.target + ":" + guestTarget}))
		out, err := exec.Command("sh", "-c", "gzip -dc "+img+" | cpio -it --quiet").CombinedOutput()
		if err != nil {
			t.Fatalf("cpio -t: %v\n%s", err, out)
		}
		list := strings.Fields(string(out))
		for _, f := range []string{"lib/cnlab/target/tmod.ko", "cnlab/target", "cnlab/job.json"} {
			if !slices.Contains(list, f) {
				t.Errorf("the initramfs lacks %s: %q", f, list)
			}
		}
		if slices.Contains(list, "lib/cnlab/cnlab.ko") {
			t.Errorf("cnlab's module is in a -target run's initramfs")
		}

		// virtme-ng: the same files, listed for /init to copy.
		job := &guest.Job{Modules: []guest.Module{bm.guest}}
		var run vm.Run
		var m vm.Machine
		must(t, vngJob(&run, &m, job, &build.GuestBinaries{}, "", dir, []string{bm.target + ":" + guestTarget}))
		b, err := os.ReadFile(filepath.Join(dir, "vng", guest.VngJob))
		must(t, err)
		var got guest.Job
		must(t, json.Unmarshal(b, &got))
		if _, ok := got.Files["/lib/cnlab/cnlab.ko"]; ok {
			t.Errorf("virtme-ng's job copies a cnlab module: %v", got.Files)
		}
		for _, f := range []string{"/lib/cnlab/target/tmod.ko", guestTarget} {
			if _, ok := got.Files[f]; !ok {
				t.Errorf("virtme-ng's job lacks %s: %v", f, got.Files)
			}
		}
	})
}

// TestKernelFiles checks where a kernel-source target's files come from:
// the build tree's source when it has one (the kernels built from source),
// else Debian's source package of the image's version, and a kernel with
// neither is refused with one line.
func TestKernelFiles(t *testing.T) {
	tree := t.TempDir()
	kdir := filepath.Join(tree, "o")
	must(t, os.MkdirAll(filepath.Join(tree, "samples", "connector"), 0o755))
	must(t, os.WriteFile(filepath.Join(tree, "samples", "connector", "cn_test.c"), []byte("x"), 0o644))
	must(t, os.MkdirAll(kdir, 0o755))
	must(t, os.Symlink("..", filepath.Join(kdir, "source")))

	p := writeTarget(t, goodModule, "source =", "kernel-source = samples/connector/cn_test.c")
	o := &Options{Memory: "1G", Kernel: "/boot/vmlinuz-x", Accel: "auto", Target: p, Src: t.TempDir()}
	must(t, o.Check())

	ts := []target{{Name: "own", Release: "9.9.9-own", KDIR: kdir}}
	must(t, kernelFiles(context.Background(), o, ts))
	if ts[0].KernelFiles != filepath.Join(kdir, "source") {
		t.Errorf("KernelFiles = %q, want the build tree's source", ts[0].KernelFiles)
	}

	saved := debianSource
	defer func() { debianSource = saved }()
	debianSource = func(context.Context, string) (string, string, error) {
		return "", "", errors.New("no Debian package linux-image-9.9.9-none is installed")
	}
	ts = []target{{Name: "none", Release: "9.9.9-none", KDIR: t.TempDir()}}
	err := kernelFiles(context.Background(), o, ts)
	if err == nil || !strings.Contains(err.Error(), "none: the target's kernel-source samples/connector/cn_test.c: not in the build tree") {
		t.Errorf("kernelFiles = %v, want it to say the files are nowhere", err)
	}

	for release, want := range map[string]string{
		"6.1.0-56-amd64": "linux-source-6.1", "6.12.95+deb12-rt-amd64": "linux-source-6.12", "7.2.13-cnlab": "linux-source-7.2",
	} {
		if got := sourcePackage(release); got != want {
			t.Errorf("sourcePackage(%q) = %q, want %q", release, got, want)
		}
	}
}
