package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cnlab/cnlab/vm"
	"github.com/cnlab/cnlab/vm/gcov"
	"github.com/cnlab/cnlab/vm/kernels"
	"github.com/cnlab/cnlab/vm/kmemleak"
)

// ensureSourceKernels builds the kernels of the matrix that come from
// source (vm/kernels), or finds them in the cache, one after the other
// before anything boots, and points their targets at the builds.
func ensureSourceKernels(ctx context.Context, o *Options, ts []target) error {
	if o.Matrix == "" {
		return nil
	}
	all, err := kernels.ReadConf(o.Matrix)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(o.Matrix)
	c := &kernels.Cache{Root: kernels.DefaultRoot(), Progress: o.stdout(),
		Sources: filepath.Join(filepath.Dir(filepath.Dir(abs)), "kernels", "apt.list")}
	for i := range ts {
		k, err := kernels.Find(all, ts[i].Name)
		if err != nil || !k.FromSource() {
			continue
		}
		b, err := c.Ensure(ctx, k)
		if err != nil {
			return err
		}
		ts[i].Image, ts[i].KDIR, ts[i].ModulesDir, ts[i].Config = b.Image, b.KDIR, b.ModulesDir, b.Config
	}
	return nil
}

// gcovArgs are the make arguments that build the module with gcov
// profiling, on a kernel that can take its data (GCOV_KERNEL).
func gcovArgs(t target) []string {
	raw, err := os.ReadFile(t.Config)
	if err != nil || !strings.Contains(string(raw), "\nCONFIG_GCOV_KERNEL=y\n") {
		return nil
	}
	return []string{"GCOV_PROFILE=y"}
}

// debugKernel reads what a debug kernel's guest sent after the suites:
// kmemleak's report, which fails the run when it holds an object the
// module allocated, and the module's gcov data, made into an lcov report
// under the kernel's build directory. Progress goes to w.
func debugKernel(ctx context.Context, r *kernelResult, w io.Writer) {
	out := r.out
	var leakReport []byte
	scanned := false
	gcda := map[string][]byte{}
	for _, s := range out.Steps {
		switch s.Name {
		case "kmemleak":
			// An empty report (nothing unreferenced) arrives as no data.
			scanned = true
			leakReport = s.Files["kmemleak"]
		case "coverage":
			for name, b := range s.Files {
				gcda[name] = b
			}
		}
	}
	if scanned {
		path := filepath.Join(r.dir, "kmemleak.txt")
		_ = os.WriteFile(path, leakReport, 0o644)
		// The module's leaks, and the connector's own (drivers/connector,
		// cn_proc included): the lab judges the kernel's connector too.
		for _, l := range []struct {
			who   string
			leaks []string
		}{
			{"the module", kmemleak.ModuleLeaks(string(leakReport), []string{r.moduleName()})},
			{"drivers/connector", kmemleak.ConnectorLeaks(string(leakReport))},
		} {
			if len(l.leaks) == 0 {
				fmt.Fprintf(w, "cnlab-vm: kmemleak: nothing %s allocated is unreferenced\n", l.who)
				continue
			}
			fmt.Fprintf(w, "cnlab-vm: kmemleak: %d object(s) %s allocated that nothing references (all of them: %s); the first:\n%s\n",
				len(l.leaks), l.who, path, firstLines(l.leaks[0], 12))
			if out.Verdict == vm.Passed || out.Verdict == vm.Failed {
				out.Verdict = vm.KernelFailure
				out.Reason = "kmemleak: " + l.who + " leaked: " + kmemleak.LeakSummary(l.leaks[0])
			}
			out.Trouble = append(out.Trouble, vm.Trouble{What: "kmemleak", Line: kmemleak.LeakSummary(l.leaks[0])})
		}
	}
	if len(gcda) > 0 {
		cov, err := gcov.ModuleCoverage(ctx, r.moduleBuildDir(), gcda, filepath.Join(r.dir, "coverage"))
		if err != nil {
			fmt.Fprintf(w, "cnlab-vm: %v\n", err)
			return
		}
		unc := filepath.Join(r.dir, "coverage", "uncovered.txt")
		_ = os.WriteFile(unc, []byte(strings.Join(cov.Uncovered, "\n")+"\n"), 0o644)
		fmt.Fprintf(w, "cnlab-vm: %s\n", cov)
		if len(cov.Uncovered) > 0 {
			fmt.Fprintf(w, "cnlab-vm: %d lines no spec reached: %s\n", len(cov.Uncovered), unc)
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}
