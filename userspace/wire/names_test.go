package wire

import (
	"os"
	"regexp"
	"testing"
)

// TestEveryNameReachesGo fails when kmod/cnlab_wire.h defines a constant
// (a #define or an enum's member) that defs.go does not take, so that a
// limit added to the module reaches Go through zdefs.go and is never
// spelled again as a literal.
func TestEveryNameReachesGo(t *testing.T) {
	header, err := os.ReadFile("../../kmod/cnlab_wire.h")
	if err != nil {
		t.Fatal(err)
	}
	defs, err := os.ReadFile("defs.go")
	if err != nil {
		t.Fatal(err)
	}
	taken := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bC\.(CNLAB_\w+)`).FindAllSubmatch(defs, -1) {
		taken[string(m[1])] = true
	}
	names := regexp.MustCompile(`(?m)^(?:#define[ \t]+|[ \t]+)(CNLAB_\w+)(?:[ \t]*=|[ \t]+\S)`).FindAllSubmatch(header, -1)
	if len(names) < 25 {
		t.Fatalf("found %d names in cnlab_wire.h, too few: is the pattern still right?", len(names))
	}
	for _, m := range names {
		if name := string(m[1]); !taken[name] {
			t.Errorf("cnlab_wire.h defines %s, which defs.go does not take: add it there and run go generate ./userspace/wire", name)
		}
	}
}
