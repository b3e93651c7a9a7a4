/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cnprobe.h - the records the probes send to user space, shared by the BPF
 * program and, through bpf2go's -type, its Go loader (which gets the enums
 * below as Go types and constants).
 */
#ifndef CNPROBE_H
#define CNPROBE_H

#define CNPROBE_MAX_RECEIVERS 8

/* How much the probes do: set by the loader before loading. */
enum cnprobe_mode {
	/* Per-id counters only: the exit of cn_netlink_send_mult, and
	 * netlink_overrun, which runs only on a drop. */
	CNPROBE_MODE_COUNTERS = 0,
	/* Counters, and a record of each send that did not reach every
	 * receiver it was sent to. */
	CNPROBE_MODE_LOSSES = 1,
	/* Counters, and a record of every send with every socket reached. */
	CNPROBE_MODE_ALL = 2,
};

enum cnprobe_kind {
	CNPROBE_SEND = 1,	/* struct cnprobe_record */
	CNPROBE_INBOUND = 2,	/* struct cnprobe_inbound */
};

/* What happened at one socket. */
enum cnprobe_outcome {
	CNPROBE_DELIVERED = 1,	/* queued to the socket */
	CNPROBE_DROPPED = 2,	/* the socket's receive queue was full */
	CNPROBE_NOCLONE = 3,	/* netlink_overrun with room in the queue: the
				 * broadcast's skb_clone failed here or at an
				 * earlier listener */
	CNPROBE_FILTERED = 4,	/* the socket's filter dropped it */
};

/* A send's return code, as the per-id counters class it. */
enum cnprobe_ret {
	CNPROBE_RET_OK = 0,
	CNPROBE_RET_ESRCH = 1,
	CNPROBE_RET_EAGAIN = 2,
	CNPROBE_RET_ECONNREFUSED = 3,
	CNPROBE_RET_ENOMEM = 4,
	CNPROBE_RET_ENOBUFS = 5,
	CNPROBE_RET_EMSGSIZE = 6,
	CNPROBE_RET_ENODEV = 7,
	CNPROBE_RET_OTHER = 8,
	CNPROBE_NRET = 9,
};

/* Record flags. */
enum cnprobe_flag {
	/* netlink_broadcast ran: the group had a listener somewhere */
	CNPROBE_F_BROADCAST = 1,
	/* portid and group were 0: the group is the callback's, id.idx */
	CNPROBE_F_GROUP_RESOLVED = 2,
	/* mode losses: only the sockets that did not get it are listed */
	CNPROBE_F_LOSSES_ONLY = 4,
};

/* What Probe.Lost and Probe.Skips add up, per CPU. */
enum cnprobe_stat {
	CNPROBE_STAT_RINGBUF = 0,	/* records the ring buffer refused */
	CNPROBE_STAT_DEPTH = 1,		/* sends nested too deep to follow */
	CNPROBE_STAT_STORAGE = 2,	/* a send whose task found both its slots
					 * held by other tasks' sends */
	CNPROBE_STAT_UNATTRIBUTED = 3,	/* a socket event matching no send */
	CNPROBE_STAT_COUNTERS_FULL = 4,	/* an id's counts, for want of room */
	CNPROBE_STAT_USER = 5,		/* not a skip: a drop while the task had
					 * no kernel send in progress (a
					 * user-space sender's broadcast) */
	CNPROBE_NSTAT = 6,
};

struct cnprobe_receiver {
	__u32 portid;
	__u8 outcome;		/* enum cnprobe_outcome */
	__u8 congested;		/* NETLINK_S_CONGESTED was already set */
	__u16 pad;
	__u32 drops;		/* the socket's sk_drops before this one */
	__s32 rcvbuf;
	__s32 rmem;		/* sk_rmem_alloc when it was dropped */
};

/*
 * One kernel-to-user send, from cn_netlink_send_mult() to its return; sent
 * with only the first min(nreceivers, CNPROBE_MAX_RECEIVERS) receivers.
 */
struct cnprobe_record {
	__u32 kind;
	__u32 nreceivers;	/* sockets listed or counted; at most MAX listed */
	__u64 ts;		/* when the send returned */
	__u32 idx;
	__u32 val;
	__u32 seq;
	__u32 ack;
	__u32 len;
	__u32 portid;
	__u32 group;		/* resolved when portid and group were 0 */
	__s32 ret;
	__u32 delivered;
	__u32 dropped;		/* full queues */
	__u32 failed;		/* skb_clone failures and filter drops */
	__u32 flags;		/* enum cnprobe_flag */
	struct cnprobe_receiver receivers[CNPROBE_MAX_RECEIVERS];
};

/* One user-to-kernel message, as cn_rx_skb() got it. */
struct cnprobe_inbound {
	__u32 kind;
	__u32 nlmsg_len;
	__u64 ts;
	__u32 portid;		/* NETLINK_CB(skb).portid: the sending socket */
	__u32 nlmsg_pid;	/* what the sender wrote in the header */
	__u32 idx;
	__u32 val;
	__u32 seq;
	__u32 ack;
	__u32 len;
	__u32 pad;
};

struct cnprobe_id {
	__u32 idx;
	__u32 val;
};

struct cnprobe_counters {
	__u64 ret[CNPROBE_NRET];	/* sends, by enum cnprobe_ret */
	__u64 delivered;		/* sockets (mode all) */
	__u64 dropped;			/* sockets whose queue was full */
	__u64 failed;			/* clone failures, filter drops */
	__u64 inbound;
};

/*
 * A slot of the per-CPU direct-mapped table in front of the per-id hash:
 * the first id to reach a slot on a CPU keeps it there.
 */
#define CNPROBE_SLOTS 64
enum cnprobe_slot_state {
	CNPROBE_SLOT_FREE = 0,
	CNPROBE_SLOT_CLAIMED = 1,	/* its id being written */
	CNPROBE_SLOT_READY = 2,
};

struct cnprobe_slot {
	struct cnprobe_id id;
	__u32 used;		/* enum cnprobe_slot_state */
	__u32 pad;
	struct cnprobe_counters c;
};

#endif /* CNPROBE_H */
