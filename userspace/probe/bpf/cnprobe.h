/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cnprobe.h - the records the probes send to user space, shared by the BPF
 * program and, through bpf2go's -type, its Go loader.
 */
#ifndef CNPROBE_H
#define CNPROBE_H

#define CNPROBE_MAX_RECEIVERS 8

enum cnprobe_kind {
	CNPROBE_SEND = 1,	/* struct cnprobe_record */
	CNPROBE_INBOUND = 2,	/* struct cnprobe_inbound */
};

enum cnprobe_outcome {
	CNPROBE_DELIVERED = 1,	/* queued to the socket */
	CNPROBE_DROPPED = 2,	/* the socket's receive queue was full */
};

struct cnprobe_receiver {
	__u32 portid;
	__u8 outcome;
	__u8 congested;		/* NETLINK_S_CONGESTED was set */
	__u16 pad;
	__u32 drops;		/* the socket's sk_drops after this */
	__s32 rcvbuf;
};

/*
 * One kernel-to-user send, from cn_netlink_send_mult() to its return; sent
 * with only the first min(nreceivers, CNPROBE_MAX_RECEIVERS) receivers.
 */
struct cnprobe_record {
	__u32 kind;
	__u32 nreceivers;	/* sockets reached; at most MAX listed */
	__u64 ts;
	__u32 idx;
	__u32 val;
	__u32 seq;
	__u32 ack;
	__u32 len;
	__u32 portid;
	__u32 group;
	__s32 ret;
	__u32 delivered;
	__u32 dropped;
	struct cnprobe_receiver receivers[CNPROBE_MAX_RECEIVERS];
};

/* One user-to-kernel message, as cn_rx_skb() got it. */
struct cnprobe_inbound {
	__u32 kind;
	__u32 nlmsg_len;
	__u64 ts;
	__u32 portid;		/* nlmsg_pid, as the sender wrote it */
	__u32 idx;
	__u32 val;
	__u32 seq;
	__u32 ack;
	__u32 len;
};

struct cnprobe_id {
	__u32 idx;
	__u32 val;
};

struct cnprobe_counters {
	__u64 sent;
	__u64 failed;
	__u64 delivered;
	__u64 dropped;
	__u64 inbound;
};

/*
 * A slot of the per-CPU direct-mapped table in front of the per-id hash:
 * the first id to reach a slot on a CPU keeps it there.
 */
#define CNPROBE_SLOTS 64
struct cnprobe_slot {
	struct cnprobe_id id;
	__u32 used;
	__u32 pad;
	struct cnprobe_counters c;
};

#endif /* CNPROBE_H */
