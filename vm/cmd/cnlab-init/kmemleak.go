//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cnlab/cnlab/vm/guest"
)

// kmemleakPath is kmemleak's control file, there on kernels built with
// DEBUG_KMEMLEAK (the debug kernels of make kernels).
const kmemleakPath = "/sys/kernel/debug/kmemleak"

// kmemleakMinAge is how old an object must be before kmemleak reports it
// (MSECS_MIN_AGE in mm/kmemleak.c), with a margin.
const kmemleakMinAge = 6 * time.Second

// kmemleakClear forgets what kmemleak suspects before the job's modules
// load, so that what the kernel leaked while booting is never counted.
func kmemleakClear() {
	if _, err := os.Stat(kmemleakPath); err == nil {
		_ = os.WriteFile(kmemleakPath, []byte("clear"), 0)
	}
}

// ksym is a symbol of a loaded module, from /proc/kallsyms.
type ksym struct {
	addr   uint64
	name   string
	module string
}

// moduleSymbols reads the symbols of the named modules from /proc/kallsyms
// while they are loaded: after they unload, kmemleak prints their frames as
// bare addresses, which these name again.
func moduleSymbols(mods []guest.Module) []ksym {
	want := map[string]bool{}
	for _, m := range mods {
		want[m.Name] = true
	}
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil
	}
	defer f.Close()
	var syms []ksym
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ffffffffc0201000 t cnlab_echo_cb	[cnlab]
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || !strings.HasPrefix(fs[3], "[") {
			continue
		}
		mod := strings.Trim(fs[3], "[]")
		if !want[mod] {
			continue
		}
		a, err := strconv.ParseUint(fs[0], 16, 64)
		if err != nil || a == 0 {
			continue
		}
		syms = append(syms, ksym{addr: a, name: fs[2], module: mod})
	}
	sort.Slice(syms, func(i, j int) bool { return syms[i].addr < syms[j].addr })
	return syms
}

// bareFrame is a backtrace frame kmemleak could not name:
// "[<ffffffffc0201234>] 0xffffffffc0201234", or with the pointer hashed,
// "[<(____ptrval____)>] 0xffffffffc0201234".
var bareFrame = regexp.MustCompile(`\[<[^>]*>\] 0x([0-9a-f]+)`)

// modulesStart is where x86_64 maps modules (MODULES_VADDR): a frame
// above it that no symbol names is in a module since unloaded, or in the
// init code a module frees once loaded.
const modulesStart = 0xffffffffa0000000

// nameFrames names the bare frames of a kmemleak report that fall in a
// symbol of syms (within 64 KiB of it), as the kernel would have while the
// module was loaded: "[<...>] cnlab_init+0x23 [cnlab]".
func nameFrames(report string, syms []ksym) string {
	if len(syms) == 0 {
		return report
	}
	return bareFrame.ReplaceAllStringFunc(report, func(frame string) string {
		m := bareFrame.FindStringSubmatch(frame)
		a, err := strconv.ParseUint(m[1], 16, 64)
		if err != nil {
			return frame
		}
		i := sort.Search(len(syms), func(i int) bool { return syms[i].addr > a }) - 1
		if i < 0 || a-syms[i].addr > 64<<10 {
			if a >= modulesStart && len(syms) > 0 {
				// The job's last module is the one under test.
				return fmt.Sprintf("%s (unloaded code) [%s]", frame, syms[len(syms)-1].module)
			}
			return frame
		}
		s := syms[i]
		return fmt.Sprintf("[<%s>] %s+0x%x [%s]", m[1], s.name, a-s.addr, s.module)
	})
}

// kmemleakScan asks kmemleak for the objects nothing references, after the
// job's modules unloaded, and sends the report (frames of the unloaded
// modules named from syms) to the host as the file "kmemleak" of the step
// "kmemleak"; the host fails the run on an object the modules allocated.
func kmemleakScan(r *results, syms []ksym) {
	if _, err := os.Stat(kmemleakPath); err != nil {
		return
	}
	r.send(guest.Event{Type: guest.EventStart, Step: "kmemleak"})
	time.Sleep(kmemleakMinAge)
	// Two scans: an object is reported once a scan has found it
	// unreferenced after it was at least the minimum age.
	for range 2 {
		if err := os.WriteFile(kmemleakPath, []byte("scan"), 0); err != nil {
			r.errorf("kmemleak scan: %v", err)
			return
		}
	}
	report, err := os.ReadFile(kmemleakPath)
	if err != nil {
		r.errorf("kmemleak: %v", err)
		return
	}
	r.send(guest.Event{Type: guest.EventFile, Step: "kmemleak", Name: "kmemleak", Data: []byte(nameFrames(string(report), syms))})
	r.send(guest.Event{Type: guest.EventExit, Step: "kmemleak"})
}

// gcovRoot is where a kernel with GCOV_KERNEL keeps the coverage data of
// the code built with GCOV_PROFILE; a module's data stays after it unloads.
const gcovRoot = "/sys/kernel/debug/gcov"

// sendCoverage sends the .gcda files under gcovRoot (the module's: nothing
// else of a debug kernel is profiled) to the host, as files of the step
// "coverage" named by their path under gcovRoot.
func sendCoverage(r *results) {
	if _, err := os.Stat(gcovRoot); err != nil {
		return
	}
	r.send(guest.Event{Type: guest.EventStart, Step: "coverage"})
	_ = filepath.WalkDir(gcovRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(path, ".gcda") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			r.errorf("coverage: %v", err)
			return nil
		}
		rel, _ := filepath.Rel(gcovRoot, path)
		r.send(guest.Event{Type: guest.EventFile, Step: "coverage", Name: rel, Data: b})
		return nil
	})
	r.send(guest.Event{Type: guest.EventExit, Step: "coverage"})
}
