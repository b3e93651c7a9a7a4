package build

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestResolveModules(t *testing.T) {
	dir := t.TempDir()
	dep := strings.Join([]string{
		"kernel/drivers/connector/cn.ko.xz: kernel/lib/a-b.ko.xz kernel/lib/base.ko.xz",
		"kernel/lib/a-b.ko.xz: kernel/lib/base.ko.xz",
		"kernel/lib/base.ko.xz:",
		"kernel/net/other.ko.zst: kernel/lib/base.ko.xz",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(dep), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
	}{
		{"none", nil, nil, ""},
		{"built in is not listed", []string{"missing"}, nil, "does not list"},
		{"dependencies first, once", []string{"cn", "other"}, []string{"base", "a_b", "cn", "other"}, ""},
		{"dashes and underscores", []string{"a_b"}, []string{"base", "a_b"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveModules(tt.in, dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range got {
				names = append(names, m.Name)
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Fatalf("load order %v, want %v", names, tt.want)
			}
		})
	}
}
