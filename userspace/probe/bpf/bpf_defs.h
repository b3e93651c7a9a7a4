/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf_defs.h - what cnprobe.bpf.c needs of the kernel's user-space ABI and
 * of the BPF toolchain, written for this program: the integer types, the
 * map types, flags and helpers it uses (by their numbers in the kernel's
 * uapi/linux/bpf.h, which never change), the netlink and connector wire
 * structs, and the few macros clang needs to lay out maps and sections.
 *
 * Kept next to the program so that the object builds the same on any host
 * with clang alone: no libbpf-dev, no architecture's include directory,
 * and nothing that depends on the target (the object is bpfel, for every
 * little-endian architecture). The programs are fentry/fexit only: their
 * context is the traced function's arguments as an array of u64, which
 * needs no struct pt_regs.
 */
#ifndef CNPROBE_BPF_DEFS_H
#define CNPROBE_BPF_DEFS_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;

/* enum bpf_map_type */
#define BPF_MAP_TYPE_HASH		1
#define BPF_MAP_TYPE_ARRAY		2
#define BPF_MAP_TYPE_PERCPU_HASH	5
#define BPF_MAP_TYPE_PERCPU_ARRAY	6
#define BPF_MAP_TYPE_LRU_HASH		9
#define BPF_MAP_TYPE_RINGBUF		27

/* bpf_map_update_elem() flags */
#define BPF_NOEXIST		1

/* bpf_ringbuf_output() flags and bpf_ringbuf_query() queries */
#define BPF_RB_NO_WAKEUP	(1ULL << 0)
#define BPF_RB_FORCE_WAKEUP	(1ULL << 1)
#define BPF_RB_AVAIL_DATA	0

/* Helpers, by their number in enum bpf_func_id. */
static void *(* const bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (* const bpf_map_update_elem)(void *map, const void *key, const void *value,
					  __u64 flags) = (void *)2;
static __u64 (* const bpf_ktime_get_ns)(void) = (void *)5;
static __u64 (* const bpf_get_current_pid_tgid)(void) = (void *)14;
static __u64 (* const bpf_get_current_task)(void) = (void *)35;
static long (* const bpf_get_stack)(void *ctx, void *buf, __u32 size, __u64 flags) = (void *)67;
static long (* const bpf_probe_read_kernel)(void *dst, __u32 size,
					    const void *unsafe_ptr) = (void *)113;
static long (* const bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size,
					 __u64 flags) = (void *)130;
static __u64 (* const bpf_ringbuf_query)(void *ringbuf, __u64 flags) = (void *)134;
static __u64 (* const bpf_get_func_ip)(void *ctx) = (void *)173;
static long (* const bpf_get_func_ret)(void *ctx, __u64 *value) = (void *)184;

/* Sections and map definitions, as the loaders (cilium/ebpf) read them. */
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name
#define __always_inline inline __attribute__((always_inline))

/*
 * Reads a field of a kernel struct declared with preserve_access_index,
 * relocated against the running kernel's BTF: for pointers the verifier
 * does not let the program load from directly.
 */
#define CORE_READ(dst, field) \
	bpf_probe_read_kernel(&(dst), sizeof(dst), __builtin_preserve_access_index(&(field)))

/* uapi/linux/netlink.h */
#define NETLINK_CONNECTOR	11
#define AF_NETLINK		16

struct nlmsghdr {
	__u32 nlmsg_len;
	__u16 nlmsg_type;
	__u16 nlmsg_flags;
	__u32 nlmsg_seq;
	__u32 nlmsg_pid;
};

#define NLMSG_ALIGNTO	4U
#define NLMSG_ALIGN(len) (((len) + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1))
#define NLMSG_HDRLEN	((int)NLMSG_ALIGN(sizeof(struct nlmsghdr)))

/* uapi/linux/connector.h */
struct cb_id {
	__u32 idx;
	__u32 val;
};

struct cn_msg {
	struct cb_id id;
	__u32 seq;
	__u32 ack;
	__u16 len;
	__u16 flags;
	__u8 data[0];
};

#endif /* CNPROBE_BPF_DEFS_H */
