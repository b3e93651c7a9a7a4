package main

import (
	"strings"
	"testing"
)

func TestReplayScriptArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plain", []string{"-kernel", "/boot/vmlinuz-x", "-labels", "echo || drops"}, `build/cnlab-vm '-kernel' '/boot/vmlinuz-x' '-labels' 'echo || drops'`},
		{"drops src and bundle", []string{"-src", "/home/me/cnlab", "-kernel", "k", "-bundle=b.tgz", "--bundle", "c.tgz"}, `build/cnlab-vm '-kernel' 'k'`},
		{"quotes", []string{"-module-params", "a='b'"}, `build/cnlab-vm '-module-params' 'a='\''b'\'''`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := replayScript(tt.args)
			if !strings.Contains(s, tt.want+"\n") {
				t.Fatalf("replay.sh lacks %q:\n%s", tt.want, s)
			}
		})
	}
}
