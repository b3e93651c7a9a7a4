package vm

import (
	"strings"
)

// ModuleLeaks returns the objects of a kmemleak report (the text of
// /sys/kernel/debug/kmemleak) that one of the modules allocated: those with
// a backtrace frame in it ("... [cnlab]"). Each is the object's text, its
// first line "unreferenced object 0x... (size N):".
func ModuleLeaks(report string, modules []string) []string {
	var leaks []string
	for _, obj := range kmemleakObjects(report) {
		_, trace, ok := strings.Cut(obj, "backtrace:")
		if !ok {
			continue
		}
		for _, m := range modules {
			if strings.Contains(trace, " ["+m+"]") {
				leaks = append(leaks, obj)
				break
			}
		}
	}
	return leaks
}

// kmemleakObjects splits a kmemleak report into its objects.
func kmemleakObjects(report string) []string {
	var objs []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			objs = append(objs, strings.TrimRight(strings.Join(cur, "\n"), "\n "))
		}
		cur = nil
	}
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "unreferenced object ") {
			flush()
		}
		if len(cur) > 0 || strings.HasPrefix(l, "unreferenced object ") {
			cur = append(cur, l)
		}
	}
	flush()
	return objs
}

// LeakSummary is one line for a leaked object: its first line and its
// backtrace's frames, e.g. "unreferenced object 0xffff888004f2c000 (size
// 64): kmalloc_trace+0x26/0x90 < cnlab_init+0x23 [cnlab] < ...".
func LeakSummary(obj string) string {
	head, trace, _ := strings.Cut(obj, "\n")
	_, trace, _ = strings.Cut(trace, "backtrace:")
	var frames []string
	for _, l := range strings.Split(trace, "\n") {
		l = strings.TrimSpace(l)
		if _, f, ok := strings.Cut(l, "] "); ok {
			frames = append(frames, f)
		}
	}
	return strings.TrimSpace(head) + " " + strings.Join(frames, " < ")
}
