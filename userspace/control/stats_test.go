package control

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/cnlab/cnlab/userspace/wire"
)

// TestStatsMatchesWire holds Stats to wire.Stats, which cgo generates from
// struct cnlab_stats: the same fields in the same order, of the same types,
// named alike but for cgo's underscores and Go's capitals.
func TestStatsMatchesWire(t *testing.T) {
	if got, want := binary.Size(Stats{}), wire.SizeofStats; got != want {
		t.Fatalf("Stats is %d bytes, struct cnlab_stats %d", got, want)
	}
	g, w := reflect.TypeOf(Stats{}), reflect.TypeOf(wire.Stats{})
	if g.NumField() != w.NumField() {
		t.Fatalf("Stats has %d fields, wire.Stats %d", g.NumField(), w.NumField())
	}
	for i := 0; i < g.NumField(); i++ {
		gf, wf := g.Field(i), w.Field(i)
		if !strings.EqualFold(gf.Name, strings.ReplaceAll(wf.Name, "_", "")) || gf.Type != wf.Type {
			t.Errorf("field %d: Stats has %s %v, wire.Stats %s %v", i, gf.Name, gf.Type, wf.Name, wf.Type)
		}
	}
}
