package vm

import (
	"regexp"
	"strings"
)

// kernelTrouble matches console lines that fail a run whatever the suites
// said: the kernel's own reports of bugs, warnings, oopses, panics, memory
// errors and hung tasks.
var kernelTrouble = []struct {
	what string
	re   *regexp.Regexp
}{
	{"kernel panic", regexp.MustCompile(`Kernel panic - not syncing`)},
	{"BUG", regexp.MustCompile(`\bBUG: |kernel BUG at `)},
	{"WARNING", regexp.MustCompile(`\bWARNING: `)},
	{"Oops", regexp.MustCompile(`\bOops(: | - |#)`)},
	{"general protection fault", regexp.MustCompile(`general protection fault`)},
	{"KASAN report", regexp.MustCompile(`KASAN: `)},
	{"UBSAN report", regexp.MustCompile(`UBSAN: `)},
	{"hung task", regexp.MustCompile(`INFO: task .* blocked for more than`)},
	{"out of memory", regexp.MustCompile(`Out of memory: Killed process|Out of memory and no killable processes`)},
}

// Trouble is a console line that reports a kernel failure.
type Trouble struct {
	What string
	Line string
}

// ScanConsole returns every line of a console log that reports a kernel
// failure.
func ScanConsole(log string) []Trouble {
	var out []Trouble
	for _, line := range strings.Split(log, "\n") {
		for _, k := range kernelTrouble {
			if k.re.MatchString(line) {
				out = append(out, Trouble{What: k.what, Line: strings.TrimRight(line, "\r")})
				break
			}
		}
	}
	return out
}
