// Package probe attaches eBPF probes to the kernel's connector and netlink
// paths and reports, message by message, what the kernel did with each
// connector message: which sockets it was queued to, which dropped it
// because their receive queue was full, and what the send returned.
//
// The BPF program is bpf/cnprobe.bpf.c; "go generate" compiles it with
// bpf2go (clang-14 and libbpf-dev from Debian, installed by make
// setup-bpf), and the generated cnprobe_x86_bpfel.{go,o} are committed, so
// building needs no clang. The program declares only the kernel fields it
// reads and is relocated (CO-RE) against the running kernel's BTF, so one
// object serves every kernel of the matrix.
package probe
