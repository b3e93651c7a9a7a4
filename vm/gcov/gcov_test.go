package gcov

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestReadLcovInfo(t *testing.T) {
	info := `TN:
SF:/w/build/6.1.192-cnlab-debug/kmod/cnlab_echo.c
FN:10,cnlab_echo_cb
FN:20,cnlab_echo_other
FNDA:5,cnlab_echo_cb
FNDA:0,cnlab_echo_other
DA:10,5
DA:12,0
DA:13,5
LF:3
LH:2
end_of_record
SF:/w/linux/include/linux/list.h
DA:3,0
end_of_record
SF:/w/build/6.1.192-cnlab-debug/kmod/cnlab_ctl.c
FN:7,cnlab_ctl_cb
FNDA:1,cnlab_ctl_cb
DA:7,0
DA:8,1
LF:2
LH:1
end_of_record
`
	p := filepath.Join(t.TempDir(), "lcov.info")
	if err := os.WriteFile(p, []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := readLcovInfo(p, "/w/build/6.1.192-cnlab-debug/kmod")
	if err != nil {
		t.Fatal(err)
	}
	want := &Coverage{Lines: 5, LinesHit: 3, Functions: 3, FunctionsHit: 2, Uncovered: []string{"cnlab_ctl.c:7", "cnlab_echo.c:12"}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v, want %+v", c, want)
	}
	if p := c.LinePercent(); p != 60 {
		t.Errorf("line percent %v, want 60", p)
	}
}
