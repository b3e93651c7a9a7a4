package probe

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// textRange is where a kernel function's code lies, [start, end), from
// /proc/kallsyms: from its symbol to the next symbol above it.
type textRange struct{ start, end uint64 }

// cloneSuffixes mark the copies gcc makes of a function that some callers
// call instead of it: the rest of a partly inlined one (.part), one
// specialised for constant arguments (.constprop), one with arguments
// removed or passed differently (.isra). A .cold part is the function's
// own, entered only from it, so it is no such copy.
var cloneSuffixes = []string{".part.", ".constprop.", ".isra."}

// kernelText reads kallsyms for the functions names: their text, and the
// copies of each that callers may call instead (see cloneSuffixes). A
// function kallsyms does not list has no range. Addresses of 0 mean the
// reader may not see them (kptr_restrict): an error, since the probes
// need them.
func kernelText(r io.Reader, names ...string) (map[string]textRange, map[string][]string, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	text := map[string]textRange{}
	clones := map[string][]string{}
	var starts []uint64 // of the wanted functions found, to find their ends
	var found []string
	var addrs []uint64 // every symbol's address
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		addr, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("kallsyms line %q: %w", line, err)
		}
		addrs = append(addrs, addr)
		name := f[2]
		if want[name] && (f[1] == "t" || f[1] == "T") && len(f) == 3 {
			if addr == 0 {
				return nil, nil, fmt.Errorf("kallsyms shows %s at address 0: its addresses are hidden (kernel.kptr_restrict; run as root)", name)
			}
			text[name] = textRange{start: addr}
			starts = append(starts, addr)
			found = append(found, name)
		}
		if base, _, ok := strings.Cut(name, "."); ok && want[base] {
			for _, s := range cloneSuffixes {
				if strings.Contains(name, s) {
					clones[base] = append(clones[base], name)
					break
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read kallsyms: %w", err)
	}
	for i, name := range found {
		end := ^uint64(0)
		for _, a := range addrs {
			if a > starts[i] && a < end {
				end = a
			}
		}
		if end == ^uint64(0) {
			return nil, nil, fmt.Errorf("kallsyms: no symbol after %s, so its end is unknown", name)
		}
		text[name] = textRange{start: starts[i], end: end}
	}
	return text, clones, nil
}
