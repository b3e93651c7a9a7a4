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
// A module's functions may be named so too (cn_test_callback, cn_buggy_cb):
// moduleFrame tells them apart.
var connectorFrame = regexp.MustCompile(`\] (cn_[a-z0-9_]+|proc_[a-z_]+_connector)\+0x`)

// moduleFrame matches a backtrace frame in a module: kmemleak writes the
// module's name after the offset ("cn_buggy_cb+0x56/0x190 [cn_buggy]").
var moduleFrame = regexp.MustCompile(`\+0x[0-9a-f]+(/0x[0-9a-f]+)? \[[A-Za-z0-9_-]+\]\s*$`)

// ConnectorLeaks returns the objects of a kmemleak report that
// drivers/connector, the kernel's connector itself, allocated: those whose
// innermost frame in the connector or in a module is the connector's. An
// object a module's callback allocated under cn_rx_skb is the module's
// (ModuleLeaks), not the connector's; a callback entry the core allocated
// for a module's cn_add_callback is the connector's.
func ConnectorLeaks(report string) []string {
	var leaks []string
	for _, obj := range kmemleakObjects(report) {
		if trace, ok := backtrace(obj); ok && allocatedByConnector(trace) {
			leaks = append(leaks, obj)
		}
	}
	return leaks
}

// allocatedByConnector tells whether the innermost frame of trace that is
// a module's or the connector's is the connector's.
func allocatedByConnector(trace string) bool {
	for _, l := range strings.Split(trace, "\n") {
		switch {
		case moduleFrame.MatchString(l):
			return false
		case connectorFrame.MatchString(l):
			return true
		}
	}
	return false
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
