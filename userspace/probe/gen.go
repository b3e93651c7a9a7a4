package probe

// The compiler and strip are bpf2go's defaults unless BPF2GO_CC and
// BPF2GO_STRIP name others (make generate sets clang-14 and llvm-strip-14,
// Debian's). The program needs no header but its own (bpf/bpf_defs.h, the
// UAPI it uses) and no architecture's: one bpfel object serves every
// little-endian architecture.
//go:generate go tool bpf2go -cflags "-O2 -g -mcpu=v3 -Wall -Werror -nostdinc" -target bpfel -type cnprobe_record -type cnprobe_receiver -type cnprobe_inbound -type cnprobe_id -type cnprobe_counters -type cnprobe_slot -type cnprobe_mode -type cnprobe_kind -type cnprobe_outcome -type cnprobe_ret -type cnprobe_flag -type cnprobe_stat -type cnprobe_slot_state cnprobe bpf/cnprobe.bpf.c -- -I./bpf
