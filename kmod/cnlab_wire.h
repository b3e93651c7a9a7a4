/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cnlab_wire.h - what cnlab adds to the connector's wire format.
 *
 * struct cn_msg itself comes from <linux/connector.h>. This header is the
 * only place where cnlab's own ids, operations and structures are defined:
 * the module includes it, and the Go side (userspace/wire) is generated from
 * it with "go tool cgo -godefs"; a host test fails when the two drift.
 *
 * Every structure is little-endian on the wire as the host is: the connector
 * is a local transport and so is this format.
 */
#ifndef CNLAB_WIRE_H
#define CNLAB_WIRE_H

#include <linux/types.h>
#include <linux/connector.h>

/*
 * Default ids. The echo id is the one the kernel's own
 * samples/connector/cn_test.c registers, so that cn_test's user space
 * (ucon.c) and cnlab interoperate. The control id shares its idx.
 */
#define CNLAB_IDX		(CN_NETLINK_USERS + 3)
#define CNLAB_ECHO_VAL		0x456
#define CNLAB_CTL_VAL		0x4c0

/*
 * The largest cn_msg payload the connector core accepts: cn_rx_skb() drops a
 * netlink message whose payload (struct cn_msg plus data) exceeds
 * CONNECTOR_MAX_MSG_SIZE.
 */
#define CNLAB_MAX_DATA		(CONNECTOR_MAX_MSG_SIZE - sizeof(struct cn_msg))

/* Send errors are counted per errno below this bound; larger ones in the last slot. */
#define CNLAB_ERRNO_SLOTS	135

/* Control operations: the first word of a request to the control id. */
enum cnlab_ctl_op {
	CNLAB_OP_GET_STATS = 1,
};

/* A control request: this header, then the operation's arguments. */
struct cnlab_ctl_req {
	__u32 op;
	__u32 reserved;
};

/*
 * A control reply, sent with the request's seq and ack = seq + 1: this
 * header, then the operation's result. status is 0 or a negative errno.
 */
struct cnlab_ctl_reply {
	__u32 op;
	__s32 status;
};

/*
 * The echo callback's counters, the result of CNLAB_OP_GET_STATS.
 * received counts every message delivered to the echo callback, valid or not.
 * send_errors[e] counts replies that failed with -e (e < CNLAB_ERRNO_SLOTS - 1;
 * the last slot takes the rest).
 */
struct cnlab_stats {
	__u64 received;
	__u64 replied;
	__u64 invalid;
	__u64 ctl_received;
	__u64 ctl_invalid;
	__u64 send_errors[CNLAB_ERRNO_SLOTS];
};

#endif /* CNLAB_WIRE_H */
