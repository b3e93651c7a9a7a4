package vm

import (
	"io"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// kernelTrouble matches console lines that fail a run whatever the suites
// said: the kernel's own reports of bugs, warnings, oopses, panics, memory
// errors, lock misuse, stalls and hung tasks. The specific come before the
// general: a soft lockup is also a "BUG: " line, and is named as what it is.
var kernelTrouble = []struct {
	what string
	re   *regexp.Regexp
}{
	{"kernel panic", regexp.MustCompile(`Kernel panic - not syncing`)},
	{"KASAN report", regexp.MustCompile(`\bKASAN: `)},
	{"UBSAN report", regexp.MustCompile(`\bUBSAN: `)},
	{"soft lockup", regexp.MustCompile(`BUG: soft lockup`)},
	{"hard lockup", regexp.MustCompile(`(?i)detected hard LOCKUP`)},
	{"RCU stall", regexp.MustCompile(`rcu: INFO: \S+ (self-)?detected stall|INFO: rcu_\S+ (self-)?detected stall|rcu: INFO: \S+ detected expedited stalls`)},
	{"lockdep report", regexp.MustCompile(`possible circular locking dependency detected|inconsistent lock state|possible recursive locking detected|suspicious RCU usage|bad unlock balance detected|held lock freed|Invalid wait context|lock held when returning to user space|possible irq lock inversion dependency detected|BUG: MAX_LOCKDEP`)},
	{"sleep in atomic context", regexp.MustCompile(`sleeping function called from invalid context|scheduling while atomic`)},
	{"debugobjects report", regexp.MustCompile(`\bODEBUG: `)},
	{"list corruption", regexp.MustCompile(`list_(add|del) corruption|list corruption`)},
	{"hung task", regexp.MustCompile(`INFO: task .* blocked for more than`)},
	{"out of memory", regexp.MustCompile(`Out of memory: Killed process|Out of memory and no killable processes`)},
	{"general protection fault", regexp.MustCompile(`general protection fault`)},
	{"Oops", regexp.MustCompile(`\bOops(: | - |#)`)},
	{"BUG", regexp.MustCompile(`\bBUG: |kernel BUG at `)},
	{"WARNING", regexp.MustCompile(`\bWARNING: `)},
}

// Trouble is a console line that reports a kernel failure.
type Trouble struct {
	What string
	Line string
}

// troubleIn returns what a console line reports, if it reports trouble.
func troubleIn(line string) (Trouble, bool) {
	for _, k := range kernelTrouble {
		if k.re.MatchString(line) {
			return Trouble{What: k.what, Line: strings.TrimRight(line, "\r")}, true
		}
	}
	return Trouble{}, false
}

// ScanConsole returns every line of a console log that reports a kernel
// failure.
func ScanConsole(log string) []Trouble {
	var out []Trouble
	for _, line := range strings.Split(log, "\n") {
		if t, ok := troubleIn(line); ok {
			out = append(out, t)
		}
	}
	return out
}

// maxWatchedLine bounds how much of one console line is matched: reports
// are short lines, and a runaway line must not grow without bound.
const maxWatchedLine = 4096

// consoleWatch passes the console through to w as it streams, and reports
// the first line that shows kernel trouble on First, at once, so that a run
// can end seconds after the kernel's report instead of at a watchdog.
type consoleWatch struct {
	w     io.Writer
	First chan Trouble // gets the first trouble, once; buffered

	mu       sync.Mutex
	line     []byte
	reported bool
	last     atomic.Int64 // when output last came, in Unix nanoseconds
}

func newConsoleWatch(w io.Writer) *consoleWatch {
	c := &consoleWatch{w: w, First: make(chan Trouble, 1)}
	c.last.Store(time.Now().UnixNano())
	return c
}

func (c *consoleWatch) Write(p []byte) (int, error) {
	c.last.Store(time.Now().UnixNano())
	c.mu.Lock()
	for _, b := range p {
		if b == '\n' {
			c.endLine()
			continue
		}
		if len(c.line) < maxWatchedLine {
			c.line = append(c.line, b)
		}
	}
	c.mu.Unlock()
	return c.w.Write(p)
}

func (c *consoleWatch) endLine() {
	if !c.reported {
		if t, ok := troubleIn(string(c.line)); ok {
			c.reported = true
			c.First <- t
		}
	}
	c.line = c.line[:0]
}

// lastOutput is when the console last printed anything.
func (c *consoleWatch) lastOutput() time.Time {
	return time.Unix(0, c.last.Load())
}

// TroubleTrace returns the console lines of the first kernel trouble and its
// trace, up to the trace's end marker or 80 lines.
func TroubleTrace(log string) string {
	lines := strings.Split(log, "\n")
	for i, line := range lines {
		if len(ScanConsole(line)) == 0 {
			continue
		}
		end := min(len(lines), i+80)
		for j := i + 1; j < end; j++ {
			if strings.Contains(lines[j], "---[ end trace") || strings.Contains(lines[j], "---[ end Kernel panic") {
				end = j + 1
				break
			}
		}
		return strings.Join(lines[i:end], "\n")
	}
	return ""
}

// TroubleReport returns the first kernel trouble's report as a reader
// wants it first: the lines just before its first line (a WARN's message,
// the "cut here" marker) and at most most lines from it.
func TroubleReport(log string, before, most int) string {
	lines := strings.Split(strings.ReplaceAll(log, "\r", ""), "\n")
	for i, line := range lines {
		if len(ScanConsole(line)) == 0 {
			continue
		}
		return strings.Join(lines[max(0, i-before):min(len(lines), i+most)], "\n")
	}
	return ""
}
