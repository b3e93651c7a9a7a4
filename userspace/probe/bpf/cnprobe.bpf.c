// SPDX-License-Identifier: GPL-2.0
/*
 * cnprobe.bpf.c - what the kernel does with each connector message.
 *
 * cn_netlink_send_mult() is where every kernel-to-user connector message
 * starts. Three modes (enum cnprobe_mode, set before loading), each paying
 * only for what it reports:
 *
 * - counters: the fentry of cn_netlink_send_mult pushes a frame for the
 *   send on its task's stack of sends in progress (struct inflight),
 *   netlink_overrun, which runs only on a drop, notes the drop in the top
 *   frame, the send it happens in, and the fexit pops the frame and counts
 *   the send by id and return code, with its drops, into a per-CPU table.
 *   No ring buffer, no clock, no allocation and no lock.
 * - losses: counters, and at the exit a record of each send that did not
 *   reach every receiver: a failed send, a drop at a full queue or a failed
 *   clone (netlink_overrun), a socket filter's drop (the fexit of
 *   sk_filter_trim_cap, on connector sockets only), with the sockets.
 * - all: the fentry opens the send's whole record in its frame,
 *   __netlink_sendskb adds each socket the message was queued to,
 *   netlink_overrun each one that dropped it, and the fexit adds the return
 *   code and emits the record.
 *
 * In modes losses and all the fexit of netlink_broadcast(_filtered) marks a broadcast
 * that reached the listeners' loop and returned -ESRCH: the group had
 * listeners, none took it (filters, other network namespaces, overruns),
 * which cn_netlink_send_mult's own -ESRCH ("nobody listens") is not.
 * cn_rx_skb() counts (and, but in mode counters, reports) what user space
 * sent to the kernel, attached only when asked for.
 *
 * Socket probes check sk_protocol first: every other netlink user on the
 * system, and a non-connector delivery nested in a connector send, costs a
 * load and a compare.
 *
 * The kernel structures are declared here with only the fields read, and
 * CO-RE relocates them against the running kernel's BTF, so one object
 * serves every kernel of the matrix.
 */
#include "bpf_defs.h"	/* the UAPI and helpers used, kept with the program */
#include "cnprobe.h"

char LICENSE[] SEC("license") = "GPL";

#define ESRCH 3
#define EAGAIN 11
#define ENOMEM 12
#define E2BIG 7
#define ENODEV 19
#define ENOBUFS 105
#define EMSGSIZE 90
#define ECONNREFUSED 111

typedef struct {
	int counter;
} atomic_t;

struct sock_common {
	unsigned short skc_family;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	int sk_rcvbuf;
	atomic_t sk_drops;
	struct {
		atomic_t rmem_alloc;
	} sk_backlog;
} __attribute__((preserve_access_index));

struct netlink_sock {
	__u32 portid;
	unsigned long state;
} __attribute__((preserve_access_index));

struct sk_buff {
	unsigned int len;
	unsigned char *data;
	char cb[48];
} __attribute__((preserve_access_index));

struct netlink_skb_parms {
	__u32 portid;
	__u32 dst_group;
} __attribute__((preserve_access_index));

/* Put these types in the BTF, for bpf2go's -type. */
const struct cnprobe_inbound *unused_inbound __attribute__((unused));
const struct cnprobe_slot *unused_slot __attribute__((unused));
const enum cnprobe_mode *unused_mode __attribute__((unused));
const enum cnprobe_kind *unused_kind __attribute__((unused));
const enum cnprobe_outcome *unused_outcome __attribute__((unused));
const enum cnprobe_ret *unused_ret __attribute__((unused));
const enum cnprobe_flag *unused_flag __attribute__((unused));
const enum cnprobe_stat *unused_stat __attribute__((unused));
const enum cnprobe_slot_state *unused_slot_state __attribute__((unused));

/* Set by the loader before loading. Filters: 0 means any. */
volatile const __u32 mode;		/* enum cnprobe_mode */
volatile const __u32 filter_idx;
volatile const __u32 filter_val;
volatile const __u32 filter_id;		/* nonzero: filter on idx:val */
volatile const __u32 filter_portid;
volatile const __u32 filter_group;
volatile const __u32 filter_seq;	/* nonzero: filter on seq in [lo, hi] */
volatile const __u32 filter_seq_lo;
volatile const __u32 filter_seq_hi;

/*
 * The sends in progress, per task: a stack, one frame per send from the
 * entry of cn_netlink_send_mult to its exit, whatever the mode. A timer's
 * send from a softirq (or an interrupt's) that interrupts a task runs with
 * that task as current, inside whatever the task was doing, and returns
 * before it: it pushes its own frame above the task's and pops it, so a
 * socket probe charges what it sees to the top frame, the send it happens
 * in. Keyed by the task, not the CPU: a task's send may sleep (a
 * GFP_KERNEL allocation or clone) and go on on another CPU, and on
 * PREEMPT_RT another task may run on the CPU inside it; each has its own
 * stack. A drop on a connector socket while the task has no send in
 * progress is a user-space sender's broadcast: no kernel send's, counted
 * apart (CNPROBE_STAT_USER), and nothing is left waiting for a later send.
 *
 * Each frame keeps the message it is for, since the kernel skips a BPF
 * program that would run while it already runs on the CPU: a send whose
 * exit was skipped leaves its frame behind, and the next exit on the task
 * finds its own frame below and drops the ones above. A power of two:
 * indexes are masked with CNPROBE_DEPTH - 1 after their range checks,
 * which the compiler may fold into forms the verifier cannot follow.
 *
 * In mode all rec[d] is the send's whole record, filled at the entry; in
 * modes counters and losses only its counts and flags are reset at the
 * entry, and the rest is filled at the exit when there is a loss to report.
 */
#define CNPROBE_DEPTH 4
struct inflight {
	__u64 owner;		/* the task's task_struct; 0 free, 1 being claimed */
	__u32 tid;		/* the owner's pid: a task gone leaves another */
	__u32 depth;
	__u64 msg[CNPROBE_DEPTH];
	struct cnprobe_record rec[CNPROBE_DEPTH];
};

#define CNPROBE_OWNER_FREE 0
#define CNPROBE_OWNER_CLAIMING 1

struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

/*
 * A direct-mapped table, not a hash or task storage (issue 29): no
 * allocation and no lock, so nothing a preempted task can hold. A task's
 * stack lives in one of two slots its task_struct's address hashes to,
 * claimed with a compare-and-swap at its outermost send's entry and freed
 * at that send's exit, so a slot is held only while its task sends. A task
 * finding both held by other tasks' sends in progress has its send counted
 * from its message, and its socket events are not attributed
 * (CNPROBE_STAT_STORAGE). A slot held by a task that is gone (its
 * task_struct no longer has the pid it claimed with: its outermost exit was
 * skipped, a kernel-skipped run counted in Skips.Recursion) is taken over.
 */
#define CNPROBE_TASKS_SHIFT 12
#define CNPROBE_TASKS (1 << CNPROBE_TASKS_SHIFT)
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CNPROBE_TASKS);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight SEC(".maps");

static __always_inline __u32 task_hash(__u64 task)
{
	return ((__u32)(task >> 6) * 0x9e3779b1u) >> (32 - CNPROBE_TASKS_SHIFT);
}

/* The slot k, if it holds the sends of task (tid). */
static __always_inline struct inflight *slot_of(__u32 k, __u64 task, __u32 tid)
{
	struct inflight *f = bpf_map_lookup_elem(&inflight, &k);

	if (f && f->owner == task && f->tid == tid)
		return f;
	return 0;
}

/* This task's sends in progress, if it has any. */
static __always_inline struct inflight *task_sends(void)
{
	__u64 task = bpf_get_current_task();
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), k = task_hash(task);
	struct inflight *f = slot_of(k, task, tid);

	if (f)
		return f;
	return slot_of(k ^ 1, task, tid);
}

/* The slot k for task (tid): its own, a free one, or one a gone task left. */
static __always_inline struct inflight *claim(__u32 k, __u64 task, __u32 tid)
{
	struct inflight *f = bpf_map_lookup_elem(&inflight, &k);
	__u64 old;
	int pid = 0;

	if (!f)
		return 0;
	old = f->owner;
	if (old == task) {
		if (f->tid != tid) {
			/* A task gone, its task_struct now this one's. */
			f->tid = tid;
			f->depth = 0;
		}
		return f;
	}
	if (old == CNPROBE_OWNER_CLAIMING)
		return 0;
	if (old != CNPROBE_OWNER_FREE &&
	    (bpf_probe_read_kernel(&pid, sizeof(pid),
				   __builtin_preserve_access_index(&((struct task_struct *)old)->pid)) ||
	     (__u32)pid == f->tid))
		return 0;	/* another task's, in the middle of a send */
	/* Claimed in two steps, so that nobody reads a half-written owner. */
	if (__sync_val_compare_and_swap(&f->owner, old, CNPROBE_OWNER_CLAIMING) != old)
		return 0;
	f->tid = tid;
	f->depth = 0;
	__sync_lock_test_and_set(&f->owner, task);
	return f;
}

/* The record of the innermost send in progress on this task, if any. */
static __always_inline struct cnprobe_record *current_send(void)
{
	struct inflight *f = task_sends();
	__u32 d;

	if (!f)
		return 0;
	d = f->depth;
	if (d == 0 || d > CNPROBE_DEPTH)
		return 0;
	return &f->rec[(d - 1) & (CNPROBE_DEPTH - 1)];
}

/*
 * The ring buffer, and when its reader is woken: not per record (a wake-up
 * costs more than the record), but when a record makes the unread data
 * cross CNPROBE_WAKE_BYTES, or is the first since the reader was last
 * woken CNPROBE_WAKE_NS ago or more. So a burst wakes the reader every
 * 64 KiB, long before the ring fills, and a record after a quiet spell at
 * once; the reader's own timeout (Probe.ReadInto) bounds the wait of the
 * records in between.
 */
#define CNPROBE_RING (1 << 22)
#define CNPROBE_WAKE_BYTES (1 << 16)
#define CNPROBE_WAKE_NS 2000000ULL
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CNPROBE_RING);
} events SEC(".maps");

/* When the reader was last woken, in bpf_ktime_get_ns() time. */
__u64 last_wake;

/* enum cnprobe_stat: what was not recorded, counted, never silent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNPROBE_NSTAT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

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

/*
 * Per-CPU counters are added to atomically: on a preemptible kernel a task
 * preempted between a load and its store would undo another task's add.
 */
static __always_inline void count(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&stats, &stat);

	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline struct cnprobe_counters *counters_for(__u32 idx, __u32 val)
{
	struct cnprobe_id key = { .idx = idx, .val = val };
	struct cnprobe_counters *c, empty = {};
	__u32 slot = ((idx * 0x9e3779b1u) ^ val) % CNPROBE_SLOTS;
	struct cnprobe_slot *s;

	s = bpf_map_lookup_elem(&counter_slots, &slot);
	if (s) {
		if (s->used == CNPROBE_SLOT_READY && s->id.idx == idx && s->id.val == val)
			return &s->c;
		/*
		 * Claimed with a compare-and-swap, the id written before the
		 * slot is marked ready: on a preemptible kernel another task
		 * on this CPU may run between any two instructions here. A
		 * slot being claimed sends its id's counts to the hash.
		 */
		if (s->used == CNPROBE_SLOT_FREE &&
		    __sync_val_compare_and_swap(&s->used, CNPROBE_SLOT_FREE, CNPROBE_SLOT_CLAIMED) ==
		    CNPROBE_SLOT_FREE) {
			s->id = key;
			__sync_lock_test_and_set(&s->used, CNPROBE_SLOT_READY);
			return &s->c;
		}
	}
	c = bpf_map_lookup_elem(&counters, &key);
	if (c)
		return c;
	if (bpf_map_update_elem(&counters, &key, &empty, BPF_NOEXIST) == -E2BIG) {
		count(CNPROBE_STAT_COUNTERS_FULL);
		return 0;
	}
	return bpf_map_lookup_elem(&counters, &key);
}

static __always_inline __u32 ret_class(int ret)
{
	if (ret >= 0)
		return CNPROBE_RET_OK;
	switch (-ret) {
	case ESRCH:
		return CNPROBE_RET_ESRCH;
	case EAGAIN:
		return CNPROBE_RET_EAGAIN;
	case ECONNREFUSED:
		return CNPROBE_RET_ECONNREFUSED;
	case ENOMEM:
		return CNPROBE_RET_ENOMEM;
	case ENOBUFS:
		return CNPROBE_RET_ENOBUFS;
	case EMSGSIZE:
		return CNPROBE_RET_EMSGSIZE;
	case ENODEV:
		return CNPROBE_RET_ENODEV;
	}
	return CNPROBE_RET_OTHER;
}

/* A record, waking the reader as the ring buffer's comment says; now is its time. */
static __always_inline void emit(void *data, __u64 size, __u64 now)
{
	__u64 flags = BPF_RB_NO_WAKEUP, avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 last = last_wake;

	if ((avail < CNPROBE_WAKE_BYTES && avail + size >= CNPROBE_WAKE_BYTES) ||
	    now - last >= CNPROBE_WAKE_NS) {
		flags = BPF_RB_FORCE_WAKEUP;
		last_wake = now;
	}
	if (bpf_ringbuf_output(&events, data, size, flags))
		count(CNPROBE_STAT_RINGBUF);
}

/* The group a send goes to: portid = group = 0 means the callback's, id.idx. */
static __always_inline __u32 resolve_group(struct cnprobe_record *r)
{
	if (!r->portid && !r->group) {
		r->flags |= CNPROBE_F_GROUP_RESOLVED;
		r->group = r->idx;
	}
	return r->group;
}

/*
 * -port P: sends to port P (a unicast), and sends that reached it or were
 * lost there (a socket the record lists: for a broadcast, the listener
 * with that port); -g G: broadcasts to G; -seq: seqs in [lo, hi].
 */
static __always_inline int wanted(struct cnprobe_record *r)
{
	__u32 i, n;
	int at = 0;

	if (filter_id && (r->idx != filter_idx || r->val != filter_val))
		return 0;
	if (filter_group && r->group != filter_group)
		return 0;
	if (filter_seq && (r->seq < filter_seq_lo || r->seq > filter_seq_hi))
		return 0;
	if (!filter_portid || (!r->group && r->portid == filter_portid))
		return 1;
	n = r->nreceivers;
	for (i = 0; i < CNPROBE_MAX_RECEIVERS; i++) {
		if (i < n && r->receivers[i].portid == filter_portid)
			at = 1;
	}
	return at;
}

static __always_inline void fill(struct cnprobe_record *r, struct cn_msg *msg, __u16 len,
				 __u32 portid, __u32 group)
{
	/*
	 * Direct loads, not CORE_READ: an fentry's arguments are trusted
	 * pointers, and a load costs an instruction where
	 * bpf_probe_read_kernel costs a helper call.
	 */
	r->kind = CNPROBE_SEND;
	r->idx = msg->id.idx;
	r->val = msg->id.val;
	r->seq = msg->seq;
	r->ack = msg->ack;
	r->len = len;
	r->portid = portid;
	r->group = group;
	resolve_group(r);
}

/* cn_netlink_send_mult(msg, len, portid, group, gfp[, filter, filter_data]) */
SEC("fentry/cn_netlink_send_mult")
int send_enter(__u64 *ctx)
{
	struct cn_msg *msg = (void *)ctx[0];
	__u64 task = bpf_get_current_task();
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), k = task_hash(task), d;
	struct cnprobe_record *r;
	struct inflight *f;

	f = claim(k, task, tid);
	if (!f)
		f = claim(k ^ 1, task, tid);
	if (!f) {
		count(CNPROBE_STAT_STORAGE);
		return 0;
	}
	/*
	 * The frame is reserved before it is written: a send an interrupt
	 * makes meanwhile takes the next one.
	 */
	d = __sync_fetch_and_add(&f->depth, 1);
	if (d >= CNPROBE_DEPTH) {
		__sync_fetch_and_add(&f->depth, -1);
		count(CNPROBE_STAT_DEPTH);
		return 0;
	}
	d &= CNPROBE_DEPTH - 1;
	f->msg[d] = (__u64)msg;
	r = &f->rec[d];
	/* The receivers are not cleared: only the first nreceivers are sent. */
	r->nreceivers = 0;
	r->flags = 0;
	r->delivered = 0;
	r->dropped = 0;
	r->failed = 0;
	/* The filters are applied at the exit, once the receivers are known. */
	if (mode == CNPROBE_MODE_ALL)
		fill(r, msg, ctx[1], ctx[2], ctx[3]);
	return 0;
}

/*
 * Where a socket probe notes what it saw of a kernel send: the innermost
 * send in progress on this task. None is a socket event of no send the
 * probes follow, counted as a skip.
 */
static __always_inline struct cnprobe_record *note_to(void)
{
	struct cnprobe_record *r = current_send();

	if (!r)
		count(CNPROBE_STAT_UNATTRIBUTED);
	return r;
}

static __always_inline void add_receiver(struct cnprobe_record *r, struct sock *sk, __u8 outcome)
{
	struct netlink_sock *nlk = (struct netlink_sock *)sk;
	struct cnprobe_receiver *rc;
	unsigned long state = 0;
	__u32 n;

	if (outcome == CNPROBE_DELIVERED)
		r->delivered++;
	else if (outcome == CNPROBE_DROPPED)
		r->dropped++;
	else
		r->failed++;
	n = r->nreceivers;
	r->nreceivers = n + 1;
	if (n >= CNPROBE_MAX_RECEIVERS)
		return;		/* counted above, not listed */
	rc = &r->receivers[n & (CNPROBE_MAX_RECEIVERS - 1)];
	/*
	 * A unicast reaches its destination port and no other (mode all knows
	 * it is one from its record). The netlink_sock around the sock lies
	 * beyond what the verifier lets a struct sock pointer load directly,
	 * hence the helper for a listener's port id and state; the sock's own
	 * fields are direct loads.
	 */
	if (mode == CNPROBE_MODE_ALL && !r->group)
		rc->portid = r->portid;
	else
		CORE_READ(rc->portid, nlk->portid);
	rc->outcome = outcome;
	if (outcome != CNPROBE_DELIVERED)
		CORE_READ(state, nlk->state);
	rc->congested = state & 1;
	rc->drops = sk->sk_drops.counter;
	rc->rcvbuf = sk->sk_rcvbuf;
	rc->rmem = sk->sk_backlog.rmem_alloc.counter;
}

/* __netlink_sendskb(sk, skb) */
SEC("fentry/__netlink_sendskb")
int sendskb(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	struct sk_buff *skb = (void *)ctx[1];
	struct netlink_skb_parms *cb = (void *)skb->cb;
	struct cnprobe_record *r;

	/*
	 * A connector message one user-space socket sends another (its
	 * sender's port in the skb) is no send of the kernel's.
	 */
	if (sk->sk_protocol != NETLINK_CONNECTOR || cb->portid)
		return 0;
	r = current_send();
	/*
	 * The skb must be this send's: its group, and no longer than the
	 * send's message (a socket filter may trim it), so that a nested send
	 * whose entry the kernel skipped does not land here.
	 */
	if (!r || skb->len > ((NLMSG_HDRLEN + sizeof(struct cn_msg) + r->len + 3) & ~3u) ||
	    cb->dst_group != r->group) {
		count(CNPROBE_STAT_UNATTRIBUTED);
		return 0;
	}
	add_receiver(r, sk, CNPROBE_DELIVERED);
	return 0;
}

/*
 * netlink_overrun(sk). Read at entry, before it sets the congested bit and
 * counts the drop. A full queue is what netlink_attachskb and
 * netlink_broadcast_deliver test: the congested bit, or sk_rmem_alloc with
 * this skb's truesize (6.1.192 and 6.12.95 add it first, then take it back)
 * above sk_rcvbuf. The truesize is not known here, but an empty queue
 * always takes its first skb: an overrun at an empty, uncongested queue is
 * a broadcast's failed skb_clone (here or at an earlier listener). A clone
 * failure at a queue holding something is reported as queue full.
 */
SEC("fentry/netlink_overrun")
int overrun(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	struct netlink_sock *nlk = (struct netlink_sock *)sk;
	struct cnprobe_record *r;
	__u8 outcome = CNPROBE_DROPPED;
	unsigned long state = 0;

	if (sk->sk_protocol != NETLINK_CONNECTOR)
		return 0;
	CORE_READ(state, nlk->state);
	if (!sk->sk_backlog.rmem_alloc.counter && !(state & 1))
		outcome = CNPROBE_NOCLONE;
	/*
	 * No kernel send in progress on the task: a user-space socket's
	 * broadcast (a kernel send to a user socket's port, the one unicast
	 * that overruns, is always the connector's own, in a send).
	 */
	r = current_send();
	if (r)
		add_receiver(r, sk, outcome);
	else
		count(CNPROBE_STAT_USER);
	return 0;
}

/* Mode losses: sk_filter_trim_cap(sk, skb, cap) dropped a kernel's connector message. */
SEC("fexit/sk_filter_trim_cap")
int filtered(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	struct sk_buff *skb = (void *)ctx[1];
	struct netlink_skb_parms *cb = (void *)skb->cb;
	struct cnprobe_record *r;
	__u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	if (!ret || sk->sk_protocol != NETLINK_CONNECTOR || sk->__sk_common.skc_family != AF_NETLINK ||
	    cb->portid)
		return 0;
	r = note_to();
	if (r)
		add_receiver(r, sk, CNPROBE_FILTERED);
	return 0;
}

/*
 * A broadcast that had listeners and reached none of them:
 * netlink_broadcast(_filtered)(ssk, ...) returned -ESRCH. ssk is the
 * sending socket: the connector's own (port 0) for a kernel send.
 */
static __always_inline int broadcast_missed(struct sock *ssk, __u64 *ctx)
{
	struct netlink_sock *nlk = (struct netlink_sock *)ssk;
	struct cnprobe_record *r;
	__u64 ret = 0;
	__u32 port = 0;

	bpf_get_func_ret(ctx, &ret);
	if ((int)ret != -ESRCH || ssk->sk_protocol != NETLINK_CONNECTOR)
		return 0;
	CORE_READ(port, nlk->portid);
	if (port)
		return 0;
	r = note_to();
	if (r)
		r->flags |= CNPROBE_F_BROADCAST;
	return 0;
}

SEC("fexit/netlink_broadcast_filtered")
int bcast_filtered(__u64 *ctx)
{
	return broadcast_missed((void *)ctx[0], ctx);
}

SEC("fexit/netlink_broadcast")
int bcast(__u64 *ctx)
{
	return broadcast_missed((void *)ctx[0], ctx);
}

/* A send, by its message's id, with what its frame saw at the sockets. */
static __always_inline void count_send(struct cn_msg *msg, struct cnprobe_record *r, __u32 rc)
{
	struct cnprobe_counters *c = counters_for(msg->id.idx, msg->id.val);

	if (!c)
		return;
	if (rc < CNPROBE_NRET)
		__sync_fetch_and_add(&c->ret[rc], 1);
	if (r->delivered)
		__sync_fetch_and_add(&c->delivered, r->delivered);
	if (r->dropped)
		__sync_fetch_and_add(&c->dropped, r->dropped);
	if (r->failed)
		__sync_fetch_and_add(&c->failed, r->failed);
}

/* A send whose record is not at hand: counted by its message alone. */
static __always_inline void count_msg(struct cn_msg *msg, __u32 rc)
{
	struct cnprobe_counters *c = counters_for(msg->id.idx, msg->id.val);

	if (c && rc < CNPROBE_NRET)
		__sync_fetch_and_add(&c->ret[rc], 1);
}

/* A record with its listed receivers only: most sends reach one socket. */
static __always_inline void emit_record(struct cnprobe_record *r)
{
	__u32 n = r->nreceivers;

	if (n > CNPROBE_MAX_RECEIVERS)
		n = CNPROBE_MAX_RECEIVERS;
	r->ts = bpf_ktime_get_ns();
	emit(r, sizeof(*r) - (CNPROBE_MAX_RECEIVERS - n) * sizeof(r->receivers[0]), r->ts);
}

/*
 * cn_netlink_send_mult(msg, len, portid, group, gfp[, ...]) returned. The
 * send is counted from its message whatever became of its frame (none: no
 * slot or too deep at the entry, or an entry the kernel skipped); its
 * frame, found by its message, is popped with any left above it by exits
 * the kernel skipped, and the task's slot freed with its outermost send's.
 */
SEC("fexit/cn_netlink_send_mult")
int send_exit(__u64 *ctx)
{
	struct cn_msg *msg = (void *)ctx[0];
	struct cnprobe_record *r, h;
	struct inflight *f;
	__u64 ret64 = 0;
	__u32 i, d, rc;
	int ret, found = -1;

	bpf_get_func_ret(ctx, &ret64);
	ret = (int)ret64;
	rc = ret_class(ret);
	f = task_sends();
	if (f && f->depth > 0 && f->depth <= CNPROBE_DEPTH) {
#pragma unroll
		for (i = CNPROBE_DEPTH; i > 0; i--) {
			if (found < 0 && i <= f->depth && f->msg[(i - 1) & (CNPROBE_DEPTH - 1)] == (__u64)msg)
				found = i - 1;
		}
	}
	if (!f || found < 0) {
		count_msg(msg, rc);
		if (mode != CNPROBE_MODE_LOSSES || ret >= 0)
			return 0;
		/* A failed send without a frame: its message says what it was. */
		h.flags = 0;
		fill(&h, msg, ctx[1], ctx[2], ctx[3]);
		h.nreceivers = 0;
		if (!wanted(&h))
			return 0;
		h.delivered = 0;
		h.dropped = 0;
		h.failed = 0;
		h.ret = ret;
		h.flags |= CNPROBE_F_LOSSES_ONLY;
		h.ts = bpf_ktime_get_ns();
		emit(&h, sizeof(h) - sizeof(h.receivers), h.ts);
		return 0;
	}
	d = found & (CNPROBE_DEPTH - 1);
	r = &f->rec[d];
	count_send(msg, r, rc);
	if (mode == CNPROBE_MODE_ALL) {
		r->ret = ret;
		if (wanted(r))
			emit_record(r);
	} else if (mode == CNPROBE_MODE_LOSSES && (ret < 0 || r->dropped || r->failed)) {
		/* Filled here: a send that loses nothing never pays for it. */
		i = r->flags;
		fill(r, msg, ctx[1], ctx[2], ctx[3]);
		r->flags |= i | CNPROBE_F_LOSSES_ONLY;
		r->ret = ret;
		if (wanted(r))
			emit_record(r);
	}
	f->depth = d;
	if (d == 0)
		__sync_lock_test_and_set(&f->owner, CNPROBE_OWNER_FREE);
	return 0;
}

/*
 * cn_rx_skb(skb): counted in every mode, reported in modes losses and
 * all.
 */
SEC("fentry/cn_rx_skb")
int rx(__u64 *ctx)
{
	struct sk_buff *skb = (void *)ctx[0];
	struct netlink_skb_parms *cb = (void *)skb->cb;
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
	c = counters_for(m.msg.id.idx, m.msg.id.val);
	if (c)
		__sync_fetch_and_add(&c->inbound, 1);
	if (mode == CNPROBE_MODE_COUNTERS)
		return 0;
	in.kind = CNPROBE_INBOUND;
	in.ts = bpf_ktime_get_ns();
	in.nlmsg_len = m.nlh.nlmsg_len;
	in.portid = cb->portid;
	in.nlmsg_pid = m.nlh.nlmsg_pid;
	in.idx = m.msg.id.idx;
	in.val = m.msg.id.val;
	in.seq = m.msg.seq;
	in.ack = m.msg.ack;
	in.len = m.msg.len;
	if (filter_id && (in.idx != filter_idx || in.val != filter_val))
		return 0;
	if (filter_portid && in.portid != filter_portid)
		return 0;
	if (filter_seq && (in.seq < filter_seq_lo || in.seq > filter_seq_hi))
		return 0;
	emit(&in, sizeof(in), in.ts);
	return 0;
}
