// Package probe attaches eBPF probes to the kernel's connector and netlink
// paths and reports, message by message, what the kernel did with each
// connector message: which sockets it was queued to, which dropped it
// because their receive queue was full, and what the send returned. A drop
// is charged to the send it happens in, kept per task on a stack of sends
// in progress, so a softirq's send nested in a task's takes none of its
// drops; a drop while no kernel send is in progress on the task is a
// user-space sender's broadcast, counted apart (Skips.UserSpace).
// docs/probes.md says how.
//
// The BPF program is bpf/cnprobe.bpf.c, with the only header it needs beside
// its own, bpf/bpf_defs.h (the UAPI and helpers it uses); "go generate"
// compiles it with bpf2go (clang-14 from Debian, installed by make
// setup-bpf) into one bpfel object for every little-endian architecture,
// and the generated cnprobe_bpfel.{go,o} are committed, so building needs
// no clang. TestGeneratedIsCurrent rebuilds them and fails when they
// differ from what is committed. The program declares only the kernel fields it
// reads and is relocated (CO-RE) against the running kernel's BTF, so one
// object serves every kernel of the matrix.
package probe
