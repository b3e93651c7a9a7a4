package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	modtarget "github.com/cnlab/cnlab/userspace/target"
	"github.com/cnlab/cnlab/vm/build"
	"github.com/cnlab/cnlab/vm/guest"
	"github.com/cnlab/cnlab/vm/kernels"
)

// A run with -target loads the target's module instead of cnlab's and
// runs the specs labelled target: the generic suite, pointed at the
// target's ids by the target file, which the guest gets as it is.
const (
	guestTarget   = modtarget.GuestFile
	targetLabel   = "target"
	targetIDsStep = "target-ids"
)

// checkTarget reads -target's file and refuses what cannot go with it.
// Each problem is one line, for Check.
func (o *Options) checkTarget(bad func(format string, args ...any)) {
	if o.Target == "" {
		return
	}
	t, err := modtarget.Read(o.Target)
	if err != nil {
		bad("-target: %v", err)
		return
	}
	o.target = t
	if o.Bench {
		bad("-bench measures cnlab's module, which -target replaces: give one")
	}
	if o.ModParams != "" {
		bad("-module-params are cnlab's module's, which -target replaces: put the target's in its params line")
	}
	if o.Bundle != "" {
		bad("-bundle cannot replay a -target run yet: it would need the target's source in the bundle")
	}
}

// builtModule is the module a kernel's run loads: cnlab's, or the target's.
type builtModule struct {
	ko     string       // on the host
	guest  guest.Module // where the guest finds it, and how it loads it
	dir    string       // its build directory, for symbolization and coverage
	cnlab  bool         // cnlab's own module (the initramfs's /lib/cnlab/cnlab.ko)
	target string       // the target file, for the guest (-target)
}

// buildModule builds the module the run loads against t, into the
// kernel's result directory: cnlab's, or -target's. A module that does
// not build is exit 4, with the compiler's first error for a target's.
func buildModule(ctx context.Context, o *Options, t target, dir string) (*builtModule, int, error) {
	if o.target == nil {
		kmod := filepath.Join(dir, "kmod")
		ko, err := build.Module(ctx, o.Src, t.KDIR, kmod, gcovArgs(t)...)
		if err != nil {
			return nil, buildExit(err), err
		}
		return &builtModule{ko: ko, dir: kmod, cnlab: true,
			guest: guest.Module{Path: "/lib/cnlab/cnlab.ko", Name: "cnlab", Params: o.ModParams}}, ExitPassed, nil
	}
	tg := o.target
	m := build.TargetModule{Name: tg.Module, Dir: tg.Source}
	if len(tg.KernelSource) > 0 {
		m.Files = map[string][]byte{}
		for _, f := range tg.KernelSource {
			b, err := os.ReadFile(filepath.Join(t.KernelFiles, f))
			if err != nil {
				return nil, ExitInfra, fmt.Errorf("the kernel's %s: %w", f, err)
			}
			m.Files[f] = b
		}
	}
	out := filepath.Join(dir, "target")
	ko, err := build.BuildTarget(ctx, m, t.KDIR, out)
	if err != nil {
		var me *build.ModuleError
		if errors.As(err, &me) {
			return nil, ExitBuild, fmt.Errorf("the target's module %s does not build against %s: %s (log: %s)", tg.Module, t.KDIR, me.First, me.Log)
		}
		return nil, ExitInfra, err
	}
	// Beside the kernel's own modules, where the initramfs and virtme-ng
	// take every module but cnlab's from.
	name := tg.KernelName()
	if err := os.MkdirAll(filepath.Join(dir, "modules"), 0o755); err != nil {
		return nil, ExitInfra, err
	}
	if err := build.DecompressModule(ko, filepath.Join(dir, "modules", name+".ko")); err != nil {
		return nil, ExitInfra, err
	}
	copyPath := filepath.Join(dir, "target.conf")
	if err := copyHostFile(o.Target, copyPath); err != nil {
		return nil, ExitInfra, fmt.Errorf("-target: %w", err)
	}
	return &builtModule{ko: ko, dir: out, target: copyPath,
		guest: guest.Module{Path: tg.GuestModule(), Name: name, Params: tg.ParamString()}}, ExitPassed, nil
}

// buildExit is the exit code of a module build's error: 4 when the build
// ran and failed, 3 when it could not run.
func buildExit(err error) int {
	var me *build.ModuleError
	if errors.As(err, &me) {
		return ExitBuild
	}
	return ExitInfra
}

func copyHostFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// targetIDs are the target's ids as /proc/net/connector prints them:
// idx:val in decimal.
func targetIDs(o *Options) []string {
	if o.target == nil {
		return nil
	}
	var ids []string
	for _, id := range o.target.IDs {
		ids = append(ids, fmt.Sprintf("%d:%d", id.Idx, id.Val))
	}
	return ids
}

// targetSteps come before the job's steps with -target: the target's ids
// must have callbacks once its module loaded, or nothing the suite says
// about them means anything (exit 3, one line: targetVerdict).
func targetSteps(o *Options) []guest.Step {
	if o.target == nil {
		return nil
	}
	argv := append([]string{"@connector-ids"}, targetIDs(o)...)
	return []guest.Step{{Name: targetIDsStep, Argv: argv, Collect: []string{guest.ConnectorList}}}
}

// targetSuiteArgs are the e2e binary's arguments for -target: the target
// file, and the specs labelled target (and the -labels given, if any).
func targetSuiteArgs(o *Options) []string {
	if o.target == nil {
		return nil
	}
	filter := targetLabel
	if o.Labels != "" {
		filter = targetLabel + " && (" + o.Labels + ")"
	}
	return []string{"-cnlab.target=" + guestTarget, "-ginkgo.label-filter=" + filter}
}

// targetVerdict fails a run whose target's ids had no callback after its
// module loaded, as a run that could not be done (exit 3), whatever the
// suite said after; it returns whether it did.
func targetVerdict(r *kernelResult) bool {
	for _, s := range r.out.Steps {
		if s.Name != targetIDsStep || s.Code == 0 {
			continue
		}
		list := string(s.Files[guest.ConnectorList])
		missing := guest.MissingIDs(list, r.targetIDs)
		why := fmt.Sprintf("the step that checks them exited with %d", s.Code)
		if len(missing) > 0 {
			why = fmt.Sprintf("%s lists %s", guest.ConnectorList, orNone(guest.ConnectorIDs(list)))
		}
		r.out.Reason = fmt.Sprintf("the target's module %s registered no callback on %s (ids idx:val in decimal; %s): check its ids line against what its init registers",
			r.module, orNone(missing), why)
		return true
	}
	return false
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// kernelFiles finds, for each kernel, the files of the kernel's own tree
// that a target's kernel-source names: in the kernel's build tree when it
// keeps its source (the kernels built from source, make kernels), else in
// Debian's linux-source package of the kernel image's version, taken out
// of its tarball once (vm/kernels.SourceFiles). One kernel after the other,
// before anything boots.
func kernelFiles(ctx context.Context, o *Options, ts []target) error {
	if o.target == nil || len(o.target.KernelSource) == 0 {
		return nil
	}
	files := o.target.KernelSource
	c := &kernels.Cache{Root: kernels.DefaultRoot(), Progress: o.stdout(),
		LocalDebs: filepath.Join(o.Src, ".cache", "debs"), Sources: filepath.Join(o.Src, "kernels", "apt.list")}
	for i := range ts {
		t := &ts[i]
		if dir, ok := treeWith(t.KDIR, files); ok {
			t.KernelFiles = dir
			continue
		}
		pkg, version, err := debianSource(ctx, t.Release)
		if err != nil {
			return fmt.Errorf("%s: the target's kernel-source %s: not in the build tree %s, and %w", t.Name, strings.Join(files, " "), t.KDIR, err)
		}
		var log strings.Builder
		dir, err := c.SourceFiles(ctx, pkg, version, files, &log)
		if err != nil {
			return fmt.Errorf("%s: the target's kernel-source from %s=%s: %w", t.Name, pkg, version, err)
		}
		t.KernelFiles = dir
	}
	return nil
}

// treeWith returns the kernel source tree of a build tree (kdir/source, or
// kdir itself) when it holds all of files.
func treeWith(kdir string, files []string) (string, bool) {
	for _, dir := range []string{filepath.Join(kdir, "source"), kdir} {
		all := true
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				all = false
				break
			}
		}
		if all {
			return dir, true
		}
	}
	return "", false
}

// debianSource names the Debian source package of a kernel release and
// its version: linux-source-X.Y at the version of the installed
// linux-image-<release>.
var debianSource = func(ctx context.Context, release string) (pkg, version string, err error) {
	image := "linux-image-" + release
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", image).Output()
	if err != nil || len(out) == 0 {
		return "", "", fmt.Errorf("no Debian package %s is installed to say which linux-source to take them from (a kernel of your own: point -kdir at a build tree with its source, or give the files in a source directory)", image)
	}
	return sourcePackage(release), strings.TrimSpace(string(out)), nil
}

// sourcePackage is the name of the linux-source package of a release:
// linux-source-6.12 for 6.12.95+deb12-rt-amd64.
func sourcePackage(release string) string {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return "linux-source-" + release
	}
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i]
	}
	return "linux-source-" + parts[0] + "." + minor
}

// sayTarget says once what a -target run does instead of cnlab's suites.
func sayTarget(o *Options, w io.Writer) {
	t := o.target
	if t == nil {
		return
	}
	var ids []string
	for _, id := range t.IDs {
		ids = append(ids, id.String())
	}
	from := t.Source
	if from == "" {
		from = "the kernel's " + strings.Join(t.KernelSource, " ")
	}
	fmt.Fprintf(w, "cnlab-vm: target %s: module %s from %s, ids %s; promises reply %s, unload under traffic %s, senders %s\n",
		o.Target, t.Module, from, strings.Join(ids, " "), t.Promises.Reply, yesNo(t.Promises.UnloadUnderTraffic), t.Promises.Senders)
	if len(o.Steps) == 0 {
		fmt.Fprintf(w, "cnlab-vm: target: cnlab's module is not loaded, so its own suites do not run: only the specs labelled %s (the generic suite)\n", targetLabel)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
