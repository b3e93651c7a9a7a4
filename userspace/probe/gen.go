package probe

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu" -target amd64 -type cnprobe_record -type cnprobe_receiver -type cnprobe_inbound -type cnprobe_id -type cnprobe_counters -type cnprobe_slot cnprobe bpf/cnprobe.bpf.c -- -I./bpf
