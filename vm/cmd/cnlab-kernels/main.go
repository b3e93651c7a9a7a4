// Command cnlab-kernels builds the kernels of kernels/kernels.conf that come
// from source (see package vm/kernels), or finds them in the cache, and
// prints where each is:
//
//	cnlab-kernels                       # every source-built kernel of the list
//	cnlab-kernels 6.1-debug             # one
//	cnlab-kernels -print kdir 6.1-debug # only the path of its build tree
//	cnlab-kernels -patches a.patch,b.patch 7.2  # 7.2 with a series on top
//	cnlab-kernels -print key 7.2        # the build's cache key, building nothing
//
// With -patches the kernel is built with that series applied on top of its
// source, from its own build (built first if not cached) without a full
// rebuild; the cache key includes the patches' names, order and contents.
//
// Exit codes: 0 built or cached; 3 a kernel could not be built (a source
// version apt does not have, a config option the kernel lacks, a failed
// build, a patch that does not apply), in one line. A kernel flagged
// may-fail that fails is reported and does not change the exit code.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cnlab/cnlab/vm/kernels"
)

const exitInfra = 3

func main() {
	conf := flag.String("conf", "kernels/kernels.conf", "the kernel list")
	cache := flag.String("cache", kernels.DefaultRoot(), "the kernel cache ($CNLAB_KERNEL_CACHE)")
	sources := flag.String("sources", "", "apt sources list for the downloads (default: kernels/apt.list of the tree the list is in, beside kernels/kernels.conf)")
	jobs := flag.Int("j", 0, "make's -j (default: the number of CPUs)")
	print := flag.String("print", "", "print only this of one kernel: dir, image, kdir, config, modules, release, or key (its cache key, building nothing)")
	patches := flag.String("patches", "", "comma-separated patches (patch -p1) to apply on top of the kernel's source, in order; one kernel only")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: cnlab-kernels [flags] [name...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	os.Exit(run(*conf, *cache, *sources, *jobs, *print, splitList(*patches), flag.Args()))
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(conf, cache, sources string, jobs int, print string, patches, names []string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "cnlab-kernels: "+format+"\n", args...)
		return exitInfra
	}
	all, err := kernels.ReadConf(conf)
	if err != nil {
		return fail("%v", err)
	}
	if sources == "" {
		abs, _ := filepath.Abs(conf)
		sources = filepath.Join(filepath.Dir(filepath.Dir(abs)), "kernels", "apt.list")
	}
	var want []kernels.Kernel
	if len(names) == 0 {
		for _, k := range all {
			if k.FromSource() {
				want = append(want, k)
			}
		}
	}
	for _, n := range names {
		k, err := kernels.Find(all, n)
		if err != nil {
			return fail("%s: %v", conf, err)
		}
		if !k.FromSource() {
			if len(patches) > 0 {
				return fail("kernel %s is Debian's prebuilt %s: patches need a kernel built from source (%s)", k.Name, k.Release, strings.Join(sourceNames(all), ", "))
			}
			return fail("kernel %s is Debian's prebuilt %s, not built from source", k.Name, k.Release)
		}
		want = append(want, k)
	}
	if print != "" && len(want) != 1 {
		return fail("-print wants exactly one kernel")
	}
	if len(patches) > 0 && len(names) != 1 {
		return fail("-patches wants exactly one kernel named, e.g. -patches a.patch,b.patch 7.2")
	}
	if print == "key" {
		key, err := kernels.PatchedKey(want[0], patches)
		if err != nil {
			return fail("kernel %s: %v", want[0].Name, err)
		}
		fmt.Println(key)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &kernels.Cache{Root: cache, Jobs: jobs, Progress: os.Stderr, Sources: sources}
	code := 0
	for _, k := range want {
		b, err := c.EnsurePatched(ctx, k, patches)
		if err != nil {
			if k.MayFail {
				fmt.Fprintf(os.Stderr, "cnlab-kernels: %v (allowed to fail)\n", err)
				continue
			}
			code = fail("%v", err)
			continue
		}
		if print != "" {
			v := map[string]string{"dir": b.Dir, "image": b.Image, "kdir": b.KDIR, "config": b.Config,
				"modules": b.ModulesDir, "release": b.Info.Release}[print]
			if v == "" {
				return fail("-print %q: want dir, image, kdir, config, modules or release", print)
			}
			fmt.Println(v)
			continue
		}
		fmt.Printf("%s\t%s\t%s (built in %.0fs)\n", k.Name, b.Info.Release, b.Dir, b.Info.BuildSeconds)
	}
	return code
}

func sourceNames(ks []kernels.Kernel) []string {
	var out []string
	for _, k := range ks {
		if k.FromSource() {
			out = append(out, k.Name)
		}
	}
	return out
}
