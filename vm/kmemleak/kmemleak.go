package kmemleak

import (
	"regexp"
	"strings"
)

// ModuleLeaks returns the objects of a kmemleak report (the text of
// /sys/kernel/debug/kmemleak) that one of the modules allocated: those with
// a backtrace frame in it ("... [cnlab]"). Each is the object's text, its
// first line "unreferenced object 0x... (size N):".
func ModuleLeaks(report string, modules []string) []string {
	var leaks []string
	for _, obj := range kmemleakObjects(report) {
		trace, ok := backtrace(obj)
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

// connectorFrame matches a backtrace frame in drivers/connector: the core
// (connector.c, cn_queue.c: every function there is named cn_*) and the
// process events connector (cn_proc.c: cn_* and proc_*_connector).
// kmemleak names a built-in function without its file, hence the names.
var connectorFrame = regexp.MustCompile(`\] (cn_[a-z0-9_]+|proc_[a-z_]+_connector)\+0x`)

// ConnectorLeaks returns the objects of a kmemleak report with a backtrace
// frame in drivers/connector, the kernel's connector itself, as
// ModuleLeaks does for modules.
func ConnectorLeaks(report string) []string {
	var leaks []string
	for _, obj := range kmemleakObjects(report) {
		if trace, ok := backtrace(obj); ok && connectorFrame.MatchString(trace) {
			leaks = append(leaks, obj)
		}
	}
	return leaks
}

// backtrace returns the frames of a kmemleak object: the lines after its
// "backtrace:" line, which kernels from 6.7 write "backtrace (crc 1a2b):".
func backtrace(obj string) (string, bool) {
	i := strings.Index(obj, "\n  backtrace")
	if i < 0 {
		return "", false
	}
	_, trace, ok := strings.Cut(obj[i+1:], "\n")
	return trace, ok
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
	head, _, _ := strings.Cut(obj, "\n")
	trace, _ := backtrace(obj)
	var frames []string
	for _, l := range strings.Split(trace, "\n") {
		l = strings.TrimSpace(l)
		if _, f, ok := strings.Cut(l, "] "); ok {
			frames = append(frames, f)
		}
	}
	return strings.TrimSpace(head) + " " + strings.Join(frames, " < ")
}
