//go:build linux

package main

import "testing"

func TestNameFrames(t *testing.T) {
	syms := []ksym{
		{addr: 0xffffffffc0201000, name: "cnlab_echo_cb", module: "cnlab"},
		{addr: 0xffffffffc0202000, name: "cnlab_init", module: "cnlab"},
	}
	tests := []struct{ name, in, want string }{
		{"a frame of the module", "    [<ffffffffc0202023>] 0xffffffffc0202023\n",
			"    [<ffffffffc0202023>] cnlab_init+0x23 [cnlab]\n"},
		{"hashed pointer", "    [<(____ptrval____)>] 0xffffffffc0202023\n",
			"    [<ffffffffc0202023>] cnlab_init+0x23 [cnlab]\n"},
		{"freed init code", "    [<(____ptrval____)>] 0xffffffffa0018030\n",
			"    [<(____ptrval____)>] 0xffffffffa0018030 (unloaded code) [cnlab]\n"},
		{"named already", "    [<ffffffff81234567>] kmalloc_trace+0x26/0x90\n",
			"    [<ffffffff81234567>] kmalloc_trace+0x26/0x90\n"},
		{"below the modules", "    [<ffffffff81100000>] 0xffffffff81100000\n",
			"    [<ffffffff81100000>] 0xffffffff81100000\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nameFrames(tt.in, syms); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
