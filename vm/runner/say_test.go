package runner

import (
	"strings"
	"testing"
)

// TestOutputThroughOptions: the runner prints to Options.Stdout and records
// Options.Args, never the process's own.
func TestOutputThroughOptions(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantArgs string
	}{
		{"no command line", nil, ""},
		{"the program alone", []string{"cnlab-vm"}, ""},
		{"flags", []string{"cnlab-vm", "-kernel", "/boot/vmlinuz-x", "-vmm", "vng"}, "-kernel /boot/vmlinuz-x -vmm vng"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			o := &Options{Stdout: &out, Args: tt.args}
			o.say("seed %d", 7)
			_ = o.timed("building", func() error { return nil })
			if got := out.String(); !strings.HasPrefix(got, "cnlab-vm: seed 7\ncnlab-vm: building ... done in ") {
				t.Errorf("Stdout got %q", got)
			}
			if got := describeHost(o).Args; got != tt.wantArgs {
				t.Errorf("host args %q, want %q", got, tt.wantArgs)
			}
			(&Options{Args: tt.args}).say("to nowhere") // a nil Stdout prints nothing, and does not panic
		})
	}
}
