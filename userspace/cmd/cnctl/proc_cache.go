package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cnlab/cnlab/userspace/proc"
)

// procInfo is what cnctl proc knows of one task: learned from /proc once,
// when the task first shows up, or from its parent at its fork, and kept up
// to date by the events that follow.
type procInfo struct {
	// comm is the task's 16-byte name; cmdline its command line since
	// its last exec, when cnctl saw the exec or learned it from /proc.
	comm, cmdline string
	// ppid is the parent's tgid; 0 when unknown.
	ppid int32
	// uid is the effective uid, -1 when unknown.
	uid int64
	// kthread is set for a kernel thread.
	kthread bool
	// start is when the task began, since boot (the fork event's time,
	// or /proc/pid/stat's starttime); known says whether it is.
	start time.Duration
	known bool
}

// name is how a line shows the task: the command line, or the comm in
// brackets for a kernel thread, or "<unknown>" (a task gone before /proc
// was read).
func (pi *procInfo) name() string {
	switch {
	case pi.kthread:
		return "[" + pi.comm + "]"
	case pi.cmdline != "":
		return pi.cmdline
	case pi.comm != "":
		return pi.comm
	}
	return "<unknown>"
}

// short is the task's name in -S's table, where whole command lines would
// split one program into many rows: the base name of the program its
// command line ran, or its comm; kernel threads as name shows them.
func (pi *procInfo) short() string {
	if !pi.kthread && pi.cmdline != "" {
		argv0, _, _ := strings.Cut(pi.cmdline, " ")
		if i := strings.LastIndexByte(argv0, '/'); i >= 0 && i < len(argv0)-1 {
			argv0 = argv0[i+1:]
		}
		return argv0
	}
	return pi.name()
}

// procCache holds a procInfo per task (keyed by the thread id), so that an
// event costs no /proc read for a task cnctl saw being born, and one for
// any other: the reads happen on the one receive loop, and under a fork
// storm a reader that reads for every event falls behind and overruns.
type procCache struct {
	tasks map[int32]*procInfo
	// uids has /proc/pid/status read too when a task is learned, for
	// its uid.
	uids bool
}

// maxCached bounds the cache: exits lost in gaps or overruns leave
// entries that nothing removes.
const maxCached = 1 << 16

// pidKthreadd is kthreadd's pid: every kernel thread is its child.
const pidKthreadd = 2

// pfKthread is PF_KTHREAD in /proc/pid/stat's flags (include/linux/sched.h).
const pfKthread = 0x00200000

// userHZ is the clock tick of /proc/pid/stat's times (USER_HZ, 100 on every
// architecture Linux runs on today).
const userHZ = 100

func newProcCache(uids bool) *procCache {
	return &procCache{tasks: map[int32]*procInfo{}, uids: uids}
}

// get returns pid's info, learning it from /proc the first time.
func (pc *procCache) get(pid int32) *procInfo {
	if pi := pc.tasks[pid]; pi != nil {
		return pi
	}
	pi := pc.learn(pid)
	pc.put(pid, pi)
	return pi
}

// put caches pi for pid, making room when the cache is full.
func (pc *procCache) put(pid int32, pi *procInfo) {
	if len(pc.tasks) >= maxCached {
		for k := range pc.tasks {
			delete(pc.tasks, k)
			break
		}
	}
	pc.tasks[pid] = pi
}

// learn reads what /proc/pid/stat says of a task (and its status for the
// uid if asked): its comm, parent, kernel-thread flag and start. A task
// that is gone is remembered as unknown, not read again.
func (pc *procCache) learn(pid int32) *procInfo {
	pi := &procInfo{uid: -1}
	if b, err := readProc(pid, "stat"); err == nil {
		parseStat(pi, string(b))
	}
	if pc.uids {
		if b, err := readProc(pid, "status"); err == nil {
			pi.uid = statusUID(string(b))
		}
	}
	return pi
}

// parseStat fills pi from a /proc/pid/stat line: "pid (comm) state ppid
// pgrp session tty tpgid flags ... starttime" (proc(5)); the comm may hold
// spaces and parentheses, so it ends at the last ')'.
func parseStat(pi *procInfo, s string) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return
	}
	pi.comm = s[open+1 : end]
	f := strings.Fields(s[end+1:]) // f[0] is field 3, state
	if len(f) > 1 {
		if v, err := strconv.ParseInt(f[1], 10, 32); err == nil {
			pi.ppid = int32(v)
		}
	}
	if len(f) > 6 {
		if v, err := strconv.ParseUint(f[6], 10, 32); err == nil {
			pi.kthread = v&pfKthread != 0
		}
	}
	if len(f) > 19 {
		if v, err := strconv.ParseUint(f[19], 10, 64); err == nil {
			pi.start, pi.known = time.Duration(v)*time.Second/userHZ, true
		}
	}
}

// statusUID is the effective uid of a /proc/pid/status, or -1.
func statusUID(s string) int64 {
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(v); len(f) > 1 {
				if uid, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					return uid
				}
			}
		}
	}
	return -1
}

// update applies e to the cache and returns the info of the task it is
// about, as it is after the event. An exit's task stays until forget.
func (pc *procCache) update(e *proc.Event) *procInfo {
	switch e.What {
	case proc.Fork:
		// A thread starts as its process is; a process as its parent
		// is, with kthreadd's children kernel threads.
		from := e.ParentTGID
		if e.PID != e.TGID {
			from = e.TGID
		}
		child := *pc.get(from)
		child.ppid, child.start, child.known = e.ParentTGID, e.Timestamp, true
		if e.ParentTGID == pidKthreadd {
			child.kthread = true
		}
		pi := &child
		pc.put(e.PID, pi)
		return pi
	case proc.Exec:
		pi := pc.get(e.PID)
		pi.kthread = false
		pi.cmdline = readCmdline(e.PID)
		if pi.cmdline == "" {
			pi.comm = "" // the old program's: the new one is unknown
		}
		return pi
	case proc.Comm:
		pi := pc.get(e.PID)
		pi.comm = e.Comm
		return pi
	case proc.UID:
		pi := pc.get(e.PID)
		pi.uid = int64(e.Effective)
		return pi
	}
	pi := pc.get(e.PID)
	if e.ParentTGID != 0 {
		pi.ppid = e.ParentTGID
	}
	return pi
}

// forget drops an exited task.
func (pc *procCache) forget(pid int32) { delete(pc.tasks, pid) }

// readProc reads /proc/<pid>/<name>: os.ReadFile, or a test's fake.
var readProc = func(pid int32, name string) ([]byte, error) {
	return os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/" + name)
}

// readCmdline is /proc/pid/cmdline with spaces for its NULs, or "" once
// the process is gone.
func readCmdline(pid int32) string {
	b, err := readProc(pid, "cmdline")
	if err != nil {
		return ""
	}
	s := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' ' // NULs between arguments, and newlines inside them
		}
		return r
	}, string(bytes.TrimRight(b, "\x00")))
	if len(s) > maxCmdline {
		s = s[:maxCmdline] + "..."
	}
	return s
}

// maxCmdline keeps an exec's line readable.
const maxCmdline = 200
