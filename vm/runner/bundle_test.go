package runner

import (
	"strings"
	"testing"
)

func TestReplayScriptArguments(t *testing.T) {
	added := map[string]string{"/home/me/busybox:/bin/busybox": "$here/added/1-busybox:/bin/busybox", "x:/y": "$here/added/2-x:/y"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plain", []string{"-kernel", "/boot/vmlinuz-x", "-labels", "echo || drops"}, `build/cnlab-vm '-kernel' '/boot/vmlinuz-x' '-labels' 'echo || drops'`},
		{"drops src and bundle", []string{"-src", "/home/me/cnlab", "-kernel", "k", "-bundle=b.tgz", "--bundle", "c.tgz"}, `build/cnlab-vm '-kernel' 'k'`},
		{"quotes", []string{"-module-params", "a='b'"}, `build/cnlab-vm '-module-params' 'a='\''b'\'''`},
		{"the bundled -add files", []string{"-add", "/home/me/busybox:/bin/busybox", "-add=x:/y"}, `build/cnlab-vm '-add' "$here"'/added/1-busybox:/bin/busybox' '-add' "$here"'/added/2-x:/y'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := replayScript(tt.args, 0, added)
			if !strings.Contains(s, tt.want+"\n") {
				t.Fatalf("replay.sh lacks %q:\n%s", tt.want, s)
			}
		})
	}
}

func TestReplayScriptSeed(t *testing.T) {
	if s := replayScript([]string{"-kernel", "k"}, 42, nil); !strings.Contains(s, `'-kernel' 'k' '-seed' '42'`+"\n") {
		t.Errorf("the replay does not fix the seed:\n%s", s)
	}
	if s := replayScript([]string{"-seed", "7"}, 7, nil); strings.Count(s, "'-seed'") != 1 {
		t.Errorf("the replay gives the seed twice:\n%s", s)
	}
}
