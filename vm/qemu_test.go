package vm

import (
	"strings"
	"testing"
)

func TestMachineArgs(t *testing.T) {
	tests := []struct {
		name    string
		m       Machine
		want    []string
		wantErr bool
	}{
		{"tcg", Machine{Kernel: "k", Initramfs: "i", Memory: "1G", CPUs: 2, Accel: "tcg", Append: []string{"foo=1"}},
			[]string{"-accel tcg", "-smp 2", "-m 1G", "-kernel k", "-initrd i", "console=ttyS0 panic=-1 rdinit=/init mitigations=off noirqdebug foo=1",
				"-serial chardev:console -chardev socket,id=results,abstract=on,path=/s -serial chardev:results", "-no-reboot"}, false},
		{"kvm", Machine{Memory: "1G", CPUs: 1, Accel: "kvm"}, []string{"-accel kvm", "-cpu host"}, false},
		{"instruction clock", Machine{Memory: "1G", CPUs: 1, Accel: "tcg", InstructionClock: true}, []string{"-icount shift=0,sleep=off"}, false},
		{"instruction clock on kvm", Machine{Memory: "1G", CPUs: 1, Accel: "kvm", InstructionClock: true}, nil, true},
		{"bad accel", Machine{CPUs: 1, Accel: "hvf"}, nil, true},
		{"no cpus", Machine{Accel: "tcg"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.m.args("/s")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			line := strings.Join(a, " ")
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("command line lacks %q:\n%s", w, line)
				}
			}
		})
	}
}
