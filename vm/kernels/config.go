package kernels

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// readConfig reads the options of a .config or a fragment: CONFIG_X to its
// value ("y", "m", "\"str\"", "42"), and "n" for "# CONFIG_X is not set".
// order lists the options in the order they appear.
func readConfig(path string) (vals map[string]string, order []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	vals = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var k, v string
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			name, isNot := strings.CutSuffix(rest, " is not set")
			if !isNot || !strings.HasPrefix(name, "CONFIG_") {
				continue
			}
			k, v = name, "n"
		} else if name, val, ok := strings.Cut(line, "="); ok && strings.HasPrefix(name, "CONFIG_") {
			k, v = name, val
		} else {
			continue
		}
		if _, dup := vals[k]; !dup {
			order = append(order, k)
		}
		vals[k] = v
	}
	return vals, order, sc.Err()
}

// checkFragments checks a .config made by olddefconfig against every
// option the fragments ask for, and returns an error naming each option
// that did not come out as asked: the kernel lacks it, or a dependency the
// fragments do not set is off.
func checkFragments(config string, fragments []string) error {
	got, _, err := readConfig(config)
	if err != nil {
		return fmt.Errorf("read %s: %w", config, err)
	}
	var bad []string
	for _, frag := range fragments {
		want, order, err := readConfig(frag)
		if err != nil {
			return fmt.Errorf("config fragment: %w", err)
		}
		for _, k := range order {
			w, g := want[k], got[k]
			if g == "" {
				g = "n"
			}
			if w == g {
				continue
			}
			state := "not set"
			if g != "n" {
				state = "=" + g
			}
			if _, known := got[k]; !known {
				state = "absent (this kernel has no such option, or its dependencies are off)"
			}
			bad = append(bad, fmt.Sprintf("%s=%s (%s: %s)", k, w, filepath.Base(frag), state))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the config fragments ask for options the kernel's .config does not have after olddefconfig: %s", strings.Join(bad, "; "))
	}
	return nil
}
