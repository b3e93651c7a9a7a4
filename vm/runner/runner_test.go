package runner

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cnlab/cnlab/vm"
)

// fakeKernel makes a kernel image and a build tree for release, with the
// given config, enough for the checks made before booting.
func fakeKernel(t *testing.T, release, config string) (image, kdir string) {
	t.Helper()
	dir := t.TempDir()
	b := make([]byte, 0x400)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x20e:], 0x100)
	copy(b[0x300:], release+" #1 SMP\x00")
	image = filepath.Join(dir, "vmlinuz")
	kdir = filepath.Join(dir, "build")
	must(t, os.WriteFile(image, b, 0o644))
	must(t, os.MkdirAll(filepath.Join(kdir, "include/generated"), 0o755))
	must(t, os.WriteFile(filepath.Join(kdir, "include/generated/utsrelease.h"), []byte(`#define UTS_RELEASE "`+release+`"`+"\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(kdir, ".config"), []byte(config), 0o644))
	must(t, os.WriteFile(filepath.Join(kdir, "Module.symvers"), nil, 0o644))
	return image, kdir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const goodConfig = "CONFIG_CONNECTOR=y\nCONFIG_MODULES=y\nCONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\nCONFIG_BLK_DEV_INITRD=y\nCONFIG_DEVTMPFS=y\n" +
	"CONFIG_SERIAL_8250_NR_UARTS=4\nCONFIG_SERIAL_8250_RUNTIME_UARTS=4\nCONFIG_EVENTFD=y\nCONFIG_BPF_SYSCALL=y\nCONFIG_DEBUG_INFO_BTF=y\nCONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y\n"

// TestRefusesBeforeBooting checks that a kernel the suites cannot run on is
// refused before anything is built or booted, with a message that names
// what is wrong. The QEMU binary given does not exist: reaching it would
// fail differently.
func TestRefusesBeforeBooting(t *testing.T) {
	tests := []struct {
		name    string
		release string
		tree    string
		config  string
		want    []string
		// optional
		noSymvers bool
		steps     []ExecStep
	}{
		{"no connector", "6.9.0-test", "6.9.0-test", strings.Replace(goodConfig, "CONFIG_CONNECTOR=y\n", "# CONFIG_CONNECTOR is not set\n", 1),
			[]string{"CONFIG_CONNECTOR is not set", "nothing was booted"}, false, nil},
		{"serial console a module", "6.9.0-test", "6.9.0-test", strings.Replace(goodConfig, "CONFIG_SERIAL_8250=y", "CONFIG_SERIAL_8250=m", 1),
			[]string{"CONFIG_SERIAL_8250 is =m, want =y"}, false, nil},
		{"build tree for another release", "6.9.0-test", "6.9.1-test", goodConfig,
			[]string{"builds modules for 6.9.1-test", "-kdir"}, false, nil},
		{"one serial port", "6.9.0-test", "6.9.0-test", strings.Replace(goodConfig, "RUNTIME_UARTS=4", "RUNTIME_UARTS=1", 1),
			[]string{"CONFIG_SERIAL_8250_RUNTIME_UARTS is =1, want at least 2"}, false, nil},
		{"no eventfd for Go's runtime", "6.9.0-test", "6.9.0-test", strings.Replace(goodConfig, "CONFIG_EVENTFD=y\n", "", 1),
			[]string{"CONFIG_EVENTFD is not set", "Go runtime"}, false, nil},
		{"suites without BTF for their probes", "6.9.0-test", "6.9.0-test", strings.Replace(goodConfig, "CONFIG_DEBUG_INFO_BTF=y\n", "", 1),
			[]string{"CONFIG_DEBUG_INFO_BTF is not set"}, false, nil},
		{"a build tree without Module.symvers", "6.9.0-test", "6.9.0-test", goodConfig,
			[]string{"has no Module.symvers", "make modules"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			image, _ := fakeKernel(t, tt.release, tt.config)
			_, kdir := fakeKernel(t, tt.tree, tt.config)
			if tt.noSymvers {
				must(t, os.Remove(filepath.Join(kdir, "Module.symvers")))
			}
			o := &Options{Kernel: image, KDir: kdir, Src: t.TempDir(), QEMU: "/nonexistent/qemu", Accel: "tcg", Memory: "1G", Steps: tt.steps}
			code, err := Run(context.Background(), o)
			if code != ExitInfra || err == nil {
				t.Fatalf("Run = %d, %v; want exit %d and an error", code, err, ExitInfra)
			}
			if _, err := os.Stat(filepath.Join(o.Src, "build", tt.release, "summary.json")); err != nil {
				t.Errorf("no summary.json for a run refused before booting: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestInstructionClock(t *testing.T) {
	tests := []struct {
		icount  string
		bench   bool
		accel   string
		want    bool
		wantErr string
	}{
		{"auto", true, "tcg", true, ""},
		{"auto", false, "tcg", false, ""},
		{"auto", true, "kvm", false, ""},
		{"", true, "tcg", true, ""},
		{"on", false, "tcg", true, ""},
		{"on", false, "kvm", false, "needs TCG"},
		{"off", true, "tcg", false, ""},
		{"sometimes", true, "tcg", false, "want on, off or auto"},
	}
	for _, tt := range tests {
		t.Run(tt.icount+"/"+tt.accel, func(t *testing.T) {
			got, err := instructionClock(&Options{ICount: tt.icount, Bench: tt.bench}, tt.accel)
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("instructionClock(-icount %q, bench %v, %s) = %v, %v; want %v, error with %q", tt.icount, tt.bench, tt.accel, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestUsage checks that options that cannot work are refused before
// anything is built, each with one line, and exit 5.
func TestUsage(t *testing.T) {
	good := Options{Kernel: "/boot/vmlinuz-x", Memory: "1G", Accel: "auto"}
	tests := []struct {
		name string
		edit func(o *Options)
		want string
	}{
		{"neither kernel nor matrix", func(o *Options) { o.Kernel = "" }, "-kernel, -kernel-dir or -matrix is required"},
		{"both", func(o *Options) { o.Matrix = "k.conf" }, "not both"},
		{"matrix and kdir", func(o *Options) { o.Kernel, o.Matrix, o.KDir = "", "k.conf", "/x" }, "-kdir applies to -kernel only"},
		{"matrix and config", func(o *Options) { o.Kernel, o.Matrix, o.Config = "", "k.conf", "/x" }, "-config applies to -kernel only"},
		{"matrix and modules dir", func(o *Options) { o.Kernel, o.Matrix, o.ModulesDir = "", "k.conf", "/x" }, "-modules-dir applies to -kernel only"},
		{"kernels without matrix", func(o *Options) { o.Kernels = "6.1" }, "without -matrix it means nothing"},
		{"a kernel named twice", func(o *Options) { o.Kernel, o.Matrix, o.Kernels = "", "k.conf", "6.1,6.12,6.1" }, `-kernels names "6.1" twice`},
		{"memory QEMU would refuse", func(o *Options) { o.Memory = "1 GB" }, `-memory "1 GB"`},
		{"too little memory", func(o *Options) { o.Memory = "64M" }, "at least 128M"},
		{"exec and bench", func(o *Options) { o.Bench, o.Steps = true, []ExecStep{{Argv: []string{"x"}}} }, "give one"},
		{"exec and labels", func(o *Options) { o.Labels, o.Steps = "echo", []ExecStep{{Argv: []string{"x"}}} }, "-exec replaces"},
		{"a bad -add", func(o *Options) { o.Add = []string{"busybox"} }, "want host-path:/guest/path"},
		{"a bad -icount", func(o *Options) { o.ICount = "maybe" }, "want on, off or auto"},
		{"a negative timeout", func(o *Options) { o.Timeout = -time.Second }, "-timeout -1s: cannot be negative"},
		{"a bad -accel", func(o *Options) { o.Accel = "hvf" }, `-accel "hvf": want auto, kvm or tcg`},
		{"a results directory Kbuild cannot build in", func(o *Options) { o.Out = "/tmp/a,b" }, "cannot build the module under a path with a space, comma"},
		{"kernel-dir and kdir", func(o *Options) { o.Kernel, o.KernelDir, o.KDir = "", "/k", "/x" }, "-kernel-dir names the image, build tree, config and modules at once"},
		{"kernel-dir that is no kernel directory", func(o *Options) { o.Kernel, o.KernelDir = "", "/nonexistent" }, "-kernel-dir /nonexistent"},
		{"an instruction clock on KVM", func(o *Options) { o.ICount, o.Accel = "on", "kvm" }, "-icount on needs TCG"},
		{"an -add file that is not there", func(o *Options) { o.Add = []string{"/nonexistent/busybox:/bin/busybox"} }, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.edit(&o)
			o.Src = t.TempDir()
			code, err := Run(context.Background(), &o)
			if code != ExitUsage || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %d, %v; want exit %d and an error saying %q", code, err, ExitUsage, tt.want)
			}
			if _, err := os.Stat(filepath.Join(o.Src, "build")); err == nil {
				t.Errorf("a refused run built something in %s", o.Src)
			}
		})
	}
	if err := good.Check(); err != nil {
		t.Fatalf("the good options were refused: %v", err)
	}
}

func TestWorse(t *testing.T) {
	tests := []struct{ a, b, want int }{
		{ExitPassed, ExitFailed, ExitFailed},
		{ExitKernel, ExitFailed, ExitKernel},
		{ExitKernel, ExitBuild, ExitBuild},
		{ExitBuild, ExitInfra, ExitInfra},
		{ExitInfra, ExitInterrupted, ExitInterrupted},
		{ExitInterrupted, ExitKernel, ExitInterrupted},
	}
	for _, tt := range tests {
		if got := Worse(tt.a, tt.b); got != tt.want {
			t.Errorf("Worse(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestLaunchOrder(t *testing.T) {
	dir := t.TempDir()
	config := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := config("plain", "CONFIG_CONNECTOR=y\n# CONFIG_KASAN is not set\n")
	kasan := config("kasan", "CONFIG_CONNECTOR=y\nCONFIG_KASAN=y\nCONFIG_KASAN_GENERIC=y\n")
	tests := []struct {
		name    string
		configs []string
		want    []int
	}{
		{"no KASAN kernel: the list's order", []string{plain, plain, plain}, []int{0, 1, 2}},
		{"a KASAN kernel last starts first", []string{plain, plain, kasan}, []int{2, 0, 1}},
		{"two KASAN kernels keep their order", []string{plain, kasan, plain, kasan}, []int{1, 3, 0, 2}},
		{"an unreadable config is not slow", []string{filepath.Join(dir, "absent"), kasan}, []int{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := make([]target, len(tt.configs))
			for i, c := range tt.configs {
				ts[i] = target{Name: fmt.Sprint(i), Config: c}
			}
			if got := launchOrder(ts); !slices.Equal(got, tt.want) {
				t.Errorf("launchOrder = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDebugKernelKmemleak(t *testing.T) {
	connectorLeak := "unreferenced object 0xffff888006a1e240 (size 96):\n  comm \"e2e.test\", pid 212, jiffies 4294900000 (age 12.0s)\n  backtrace (crc 9a1c02f3):\n    [<ffffffff8136f3a6>] __kmalloc_cache_noprof+0x26/0x90\n    [<ffffffff81b2c0d1>] cn_queue_alloc_callback_entry+0x31/0x120\n"
	leak := "unreferenced object 0xffff888004a1c2a0 (size 16):\n  comm \"cnctl\", pid 180, jiffies 4294937296 (age 12.040s)\n  backtrace:\n    [<ffffffff81234567>] __kmalloc+0x4b/0x150\n    [<ffffffffc0200123>] cnlab_register_extra+0x93/0x1f0 [cnlab]\n"
	tests := []struct {
		name     string
		steps    []vm.StepResult
		verdict  vm.Verdict
		wantSays string
	}{
		{"a scan that found nothing (no data)", []vm.StepResult{{Name: "kmemleak", Exited: true, Files: map[string][]byte{}}}, vm.Passed,
			"kmemleak: nothing the module allocated is unreferenced"},
		{"a scan that found the module's object", []vm.StepResult{{Name: "kmemleak", Exited: true, Files: map[string][]byte{"kmemleak": []byte(leak)}}}, vm.KernelFailure,
			"1 object(s) the module allocated"},
		{"a scan that found the connector's object, on a 7.x kernel (crc)", []vm.StepResult{{Name: "kmemleak", Exited: true, Files: map[string][]byte{"kmemleak": []byte(connectorLeak)}}}, vm.KernelFailure,
			"1 object(s) drivers/connector allocated"},
		{"no scan (a kernel without kmemleak)", nil, vm.Passed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &kernelResult{dir: t.TempDir(), out: &vm.Outcome{Verdict: vm.Passed, Steps: tt.steps}}
			var w strings.Builder
			debugKernel(context.Background(), r, &w)
			if r.out.Verdict != tt.verdict {
				t.Errorf("verdict %v, want %v", r.out.Verdict, tt.verdict)
			}
			if tt.wantSays == "" && w.Len() > 0 || !strings.Contains(w.String(), tt.wantSays) {
				t.Errorf("said %q, want %q", w.String(), tt.wantSays)
			}
		})
	}
}
