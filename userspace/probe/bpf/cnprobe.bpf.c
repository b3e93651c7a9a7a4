// SPDX-License-Identifier: GPL-2.0
/*
 * cnprobe.bpf.c - what the kernel does with each connector message.
 *
 * cn_netlink_send_mult() is where every kernel-to-user connector message
 * starts; its fentry opens a record for the send, __netlink_sendskb() adds
 * each socket the message was queued to (delivered), netlink_overrun() each
 * socket whose receive queue was full (dropped), and the fexit adds the
 * send's return code and emits the record. fentry/fexit, not kprobes: they
 * cost a direct call instead of a trap, and the fexit reads the return value
 * with bpf_get_func_ret(), since the function has 5 arguments on 6.1 and 7
 * on 6.12. The whole path runs on the
 * sending task, so records are kept per task; a send from a softirq that
 * interrupts a task's send nests on the same task, hence a small stack.
 * cn_rx_skb() reports what user space sent to the kernel.
 *
 * The kernel structures are declared here with only the fields read, and
 * CO-RE relocates them against the running kernel's BTF, so one object
 * serves every kernel of the matrix.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/netlink.h>
#include <linux/connector.h>	/* struct cn_msg: user-space ABI, no relocation needed */
#include <asm/ptrace.h>		/* struct pt_regs, as user space sees it */
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "cnprobe.h"

char LICENSE[] SEC("license") = "GPL";

typedef struct {
	int counter;
} atomic_t;

struct sock {
	int sk_rcvbuf;
	atomic_t sk_drops;
} __attribute__((preserve_access_index));

struct netlink_sock {
	__u32 portid;
	unsigned long state;
} __attribute__((preserve_access_index));

struct sk_buff {
	unsigned int len;
	unsigned char *data;
} __attribute__((preserve_access_index));

/* Put these structs in the BTF, for bpf2go's -type. */
const struct cnprobe_inbound *unused_inbound __attribute__((unused));
const struct cnprobe_slot *unused_slot __attribute__((unused));

/* Filters, set by the loader before loading; 0 means any. */
volatile const __u32 filter_idx;
volatile const __u32 filter_val;
volatile const __u32 filter_id;		/* nonzero: filter on idx:val */
volatile const __u32 filter_portid;
volatile const __u32 filter_group;
volatile const __u32 filter_seq_lo;
volatile const __u32 filter_seq_hi;	/* nonzero: seq in [lo, hi] */

/*
 * The sends in progress on one task: a stack, for a softirq's send nested in
 * a task's. Each frame keeps the message it is for, since the kernel skips a
 * BPF program that would run while it already runs on the CPU (a softirq
 * interrupting it): a send whose exit was skipped leaves its frame behind,
 * and the next exit on the task finds its own frame below and drops the
 * ones above. A power of two: indexes are masked with
 * CNPROBE_DEPTH - 1 after their range checks, which the compiler may fold
 * into forms the verifier cannot follow.
 */
#define CNPROBE_DEPTH 4
struct inflight {
	__u32 depth;
	__u32 skip[CNPROBE_DEPTH];
	__u64 msg[CNPROBE_DEPTH];
	struct cnprobe_record rec[CNPROBE_DEPTH];
};

/*
 * Task storage, not a hash keyed by task: it lives as long as the task, so a
 * send costs no insert and delete.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Events the ring buffer could not take: counted, never silently lost. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/*
 * Always on, whatever the filters: per id. A hash lookup costs about as much
 * as the rest of a probe, so a per-CPU direct-mapped table of slots comes
 * first (an array lookup and a compare), and the hash takes only the ids
 * that find their slot taken by another.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNPROBE_SLOTS);
	__type(key, __u32);
	__type(value, struct cnprobe_slot);
} counter_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct cnprobe_id);
	__type(value, struct cnprobe_counters);
} counters SEC(".maps");

static __always_inline struct cnprobe_counters *counters_for(__u32 idx, __u32 val)
{
	struct cnprobe_id key = { .idx = idx, .val = val };
	struct cnprobe_counters *c, empty = {};
	__u32 slot = ((idx * 0x9e3779b1u) ^ val) % CNPROBE_SLOTS;
	struct cnprobe_slot *s;

	s = bpf_map_lookup_elem(&counter_slots, &slot);
	if (s) {
		if (s->used && s->id.idx == idx && s->id.val == val)
			return &s->c;
		if (!s->used) {
			s->id = key;
			s->used = 1;
			return &s->c;
		}
	}
	c = bpf_map_lookup_elem(&counters, &key);
	if (c)
		return c;
	bpf_map_update_elem(&counters, &key, &empty, BPF_NOEXIST);
	return bpf_map_lookup_elem(&counters, &key);
}

static __always_inline void count_lost(void)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &k);

	if (n)
		(*n)++;
}

/*
 * Waking the reader for every event would cost a context switch per message;
 * it is woken only once the ring is a quarter full, and otherwise reads on
 * its own schedule (Probe.Read polls).
 */
static __always_inline void emit(void *data, __u64 size)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > (1 << 20))
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, data, size, flags))
		count_lost();
}

static __always_inline int wanted(struct cnprobe_record *r)
{
	if (filter_id && (r->idx != filter_idx || r->val != filter_val))
		return 0;
	if (filter_portid && r->portid != filter_portid)
		return 0;
	if (filter_group && r->group != filter_group)
		return 0;
	if (filter_seq_hi && (r->seq < filter_seq_lo || r->seq > filter_seq_hi))
		return 0;
	return 1;
}

SEC("fentry/cn_netlink_send_mult")
int BPF_PROG(send_enter, struct cn_msg *msg, __u16 len, __u32 portid, __u32 group)
{
	struct cnprobe_record *r;
	struct inflight *f;
	__u32 d;

	f = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!f)
		return 0;
	d = f->depth;
	if (d >= CNPROBE_DEPTH) {
		count_lost();	/* too deep to record */
		return 0;
	}
	d &= CNPROBE_DEPTH - 1;
	f->msg[d] = (__u64)msg;
	r = &f->rec[d];
	/*
	 * Direct loads, not BPF_CORE_READ: an fentry's arguments are trusted
	 * pointers, and a load costs an instruction where bpf_probe_read_kernel
	 * costs a helper call. The receivers are not cleared: only the first
	 * nreceivers are sent.
	 */
	r->kind = CNPROBE_SEND;
	r->nreceivers = 0;
	r->ts = bpf_ktime_get_ns();
	r->idx = msg->id.idx;
	r->val = msg->id.val;
	r->seq = msg->seq;
	r->ack = msg->ack;
	r->len = len;
	r->portid = portid;
	r->group = group;
	r->ret = 0;
	r->delivered = 0;
	r->dropped = 0;
	f->skip[d] = !wanted(r);
	f->depth = d + 1;
	return 0;
}

/* The record of the innermost send in progress on this task, if any. */
static __always_inline struct cnprobe_record *current_send(struct inflight **fp, __u32 *dp)
{
	struct inflight *f = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);
	__u32 d;

	if (!f || f->depth == 0 || f->depth > CNPROBE_DEPTH)
		return 0;
	d = (f->depth - 1) & (CNPROBE_DEPTH - 1);
	*fp = f;
	*dp = d;
	return &f->rec[d];
}

static __always_inline void add_receiver(struct sock *sk, __u8 outcome)
{
	struct netlink_sock *nlk = (struct netlink_sock *)sk;
	struct cnprobe_receiver *rc;
	struct cnprobe_record *r;
	struct inflight *f;
	__u32 d, n;

	r = current_send(&f, &d);
	if (!r)
		return;
	if (outcome == CNPROBE_DELIVERED)
		r->delivered++;
	else
		r->dropped++;
	n = r->nreceivers;
	r->nreceivers = n + 1;
	if (n >= CNPROBE_MAX_RECEIVERS)
		return;		/* counted above, not listed */
	rc = &r->receivers[n & (CNPROBE_MAX_RECEIVERS - 1)];
	/*
	 * A unicast reaches its destination port and no other. The
	 * netlink_sock around the sock lies beyond what the verifier lets a
	 * struct sock pointer load directly, hence the helper for a listener's
	 * port id and state; the sock's own fields are direct loads.
	 */
	rc->portid = r->portid ? r->portid : BPF_CORE_READ(nlk, portid);
	rc->outcome = outcome;
	rc->congested = outcome == CNPROBE_DROPPED ? BPF_CORE_READ(nlk, state) & 1 : 0;
	rc->drops = sk->sk_drops.counter;
	rc->rcvbuf = sk->sk_rcvbuf;
}

SEC("fentry/__netlink_sendskb")
int BPF_PROG(sendskb, struct sock *sk)
{
	add_receiver(sk, CNPROBE_DELIVERED);
	return 0;
}

SEC("fentry/netlink_overrun")
int BPF_PROG(overrun, struct sock *sk)
{
	add_receiver(sk, CNPROBE_DROPPED);
	return 0;
}

SEC("fexit/cn_netlink_send_mult")
int BPF_PROG(send_exit, struct cn_msg *msg)
{
	__u64 ret64 = 0;
	int ret;
	struct cnprobe_counters *c;
	struct cnprobe_record *r;
	struct inflight *f;
	__u32 d, n, i;
	int found = -1;

	bpf_get_func_ret(ctx, &ret64);
	ret = (int)ret64;
	/*
	 * A send found in no frame, or whose frame is left above another's, is
	 * counted lost once, where it was lost: too deep by the entry, a skipped
	 * entry or exit by the kernel (the program's recursion misses).
	 */
	f = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);
	if (!f || f->depth == 0 || f->depth > CNPROBE_DEPTH)
		return 0;
#pragma unroll
	for (i = CNPROBE_DEPTH; i > 0; i--) {
		if (found < 0 && i <= f->depth && f->msg[(i - 1) & (CNPROBE_DEPTH - 1)] == (__u64)msg)
			found = i - 1;
	}
	if (found < 0)
		return 0;
	d = found & (CNPROBE_DEPTH - 1);
	f->depth = d;
	r = &f->rec[d];
	r->ret = ret;

	c = counters_for(r->idx, r->val);
	if (c) {
		c->sent++;
		if (ret < 0)
			c->failed++;
		c->delivered += r->delivered;
		c->dropped += r->dropped;
	}
	if (f->skip[d])
		return 0;
	/* Only the receivers listed: most sends reach one socket. */
	n = r->nreceivers;
	if (n > CNPROBE_MAX_RECEIVERS)
		n = CNPROBE_MAX_RECEIVERS;
	emit(r, sizeof(*r) - (CNPROBE_MAX_RECEIVERS - n) * sizeof(r->receivers[0]));
	return 0;
}

SEC("fentry/cn_rx_skb")
int BPF_PROG(rx, struct sk_buff *skb)
{
	struct cnprobe_counters *c;
	struct cnprobe_inbound in = {};
	struct {
		struct nlmsghdr nlh;
		struct cn_msg msg;
	} m;

	if (skb->len < sizeof(m))
		return 0;
	if (bpf_probe_read_kernel(&m, sizeof(m), skb->data))
		return 0;
	in.kind = CNPROBE_INBOUND;
	in.ts = bpf_ktime_get_ns();
	in.nlmsg_len = m.nlh.nlmsg_len;
	in.portid = m.nlh.nlmsg_pid;
	in.idx = m.msg.id.idx;
	in.val = m.msg.id.val;
	in.seq = m.msg.seq;
	in.ack = m.msg.ack;
	in.len = m.msg.len;
	c = counters_for(in.idx, in.val);
	if (c)
		c->inbound++;
	if (filter_id && (in.idx != filter_idx || in.val != filter_val))
		return 0;
	if (filter_portid && in.portid != filter_portid)
		return 0;
	if (filter_seq_hi && (in.seq < filter_seq_lo || in.seq > filter_seq_hi))
		return 0;
	emit(&in, sizeof(in));
	return 0;
}
