package tail

import (
	"fmt"
	"os"
	"strings"
)

// Lines returns the last n lines of s, joined by "\n", without the
// trailing newlines of s. It returns "" when n is 0 or less.
func Lines(s string, n int) string {
	if n <= 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// File returns the last n lines of the file at path, without carriage
// returns (a serial console ends its lines with "\r\n"), or, when the file
// cannot be read, a line that says so.
func File(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return strings.ReplaceAll(Lines(string(b), n), "\r", "")
}
