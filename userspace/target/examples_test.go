package target

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestExamples reads every target file under examples/ as the runner
// does, and holds examples/buggy's to its module: one target per bug the
// module plants, each naming a bug it knows.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "*.target"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example targets: %v", err)
	}
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "buggy", "cn_buggy.c"))
	if err != nil {
		t.Fatal(err)
	}
	// The module's names of its bugs: [CN_BUGGY_X] = "x",
	var bugs []string
	for _, m := range regexp.MustCompile(`\[CN_BUGGY_[A-Z]+\] = "([a-z]+)"`).FindAllStringSubmatch(string(src), -1) {
		bugs = append(bugs, m[1])
	}
	planted := map[string]bool{}
	for _, f := range files {
		tg, err := Read(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if filepath.Base(filepath.Dir(f)) != "buggy" {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(f), ".target")
		if want := []string{"bug=" + name}; !slices.Equal(tg.Params, want) {
			t.Errorf("%s: params %q, want %q: a buggy target is named for its bug", f, tg.Params, want)
		}
		if !slices.Contains(bugs, name) {
			t.Errorf("%s: cn_buggy.c knows no bug %q (it knows %v)", f, name, bugs)
		}
		planted[name] = true
	}
	for _, b := range bugs {
		if !planted[b] {
			t.Errorf("cn_buggy.c plants bug %q, and no examples/buggy/%s.target runs it", b, b)
		}
	}
}
