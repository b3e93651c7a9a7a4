/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
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

#include <linux/connector.h>
#include <linux/errno.h>
#include <linux/types.h>

/*
 * Default ids. The echo id is the one the kernel's own
 * samples/connector/cn_test.c registers, so that cn_test's user space
 * (ucon.c) and cnlab interoperate. The control id shares its idx.
 */
#define CNLAB_IDX		(CN_NETLINK_USERS + 3)
#define CNLAB_ECHO_VAL		0x456
#define CNLAB_CTL_VAL		0x4c0
/* Kernel-initiated messages: bursts and timer broadcasts carry this id. */
#define CNLAB_BCAST_VAL		0x4c1
/* Notifications of ids registered or unregistered carry this id... */
#define CNLAB_NOTIFY_VAL	0x4c2
/* ...and go to this group. */
#define CNLAB_NOTIFY_GROUP	(CN_NETLINK_USERS + 4)

/*
 * The connector's netlink socket has CN_NETLINK_USERS + 0xf multicast groups
 * (drivers/connector/connector.c); groups are numbered from 1.
 */
#define CNLAB_GROUPS		(CN_NETLINK_USERS + 0xf)

/* How many ids the control channel can register besides echo and control. */
#define CNLAB_MAX_EXTRA_IDS	16

/*
 * The largest cn_msg payload the connector core accepts: cn_rx_skb() drops a
 * netlink message whose payload (struct cn_msg plus data) exceeds
 * CONNECTOR_MAX_MSG_SIZE.
 */
#define CNLAB_MAX_DATA		(CONNECTOR_MAX_MSG_SIZE - sizeof(struct cn_msg))

/*
 * Send errors are counted per errno: one slot for each of 0 to
 * CNLAB_ERRNO_MAX, the largest errno the kernel defines
 * (include/uapi/asm-generic/errno.h), and a last slot for any larger one.
 */
#define CNLAB_ERRNO_MAX		EHWPOISON
#define CNLAB_ERRNO_SLOTS	(CNLAB_ERRNO_MAX + 2)

/* The most messages one CNLAB_OP_BURST sends, and CNLAB_OP_ECHO_MODE's count. */
#define CNLAB_MAX_COUNT		1000000

/* The longest CNLAB_OP_ECHO_MODE delay, in ms. */
#define CNLAB_MAX_DELAY		60000

/* The longest CNLAB_OP_TIMER_START period, in ms (one hour); 1 the shortest. */
#define CNLAB_MAX_PERIOD	3600000

/*
 * The most memory the late replies of CNLAB_ECHO_DELAY may hold at once, in
 * bytes, as the kernel's allocator rounds them: whatever the mode's count,
 * a request beyond it is answered at once. Any sender, privileged or not,
 * can make the module hold this much for up to CNLAB_MAX_DELAY ms once an
 * admin has set that mode; it is charged to the sender's memory cgroup.
 */
#define CNLAB_MAX_LATE_BYTES	(1024 * 1024)

/*
 * Control operations: the first word of a request to the control id. All but
 * CNLAB_OP_GET_STATS change state and need CAP_NET_ADMIN in the initial user
 * namespace; a refused request is answered with status -EPERM. Before that
 * check, an unknown operation is answered with -EOPNOTSUPP, and a request
 * whose reserved field is not zero or whose arguments are not the
 * operation's size with -EINVAL; these are counted in ctl_invalid, a
 * request shorter than struct cnlab_ctl_req too (and not answered). An
 * argument out of its bounds is answered with -EINVAL, uncounted. While the
 * module unloads, CNLAB_OP_BURST (also one under way), CNLAB_OP_TIMER_START
 * and CNLAB_OP_REGISTER are answered with -ESHUTDOWN.
 */
enum cnlab_ctl_op {
	CNLAB_OP_GET_STATS = 1,		/* result: struct cnlab_stats */
	CNLAB_OP_BURST = 2,		/* args: struct cnlab_burst */
	CNLAB_OP_TIMER_START = 3,	/* args: struct cnlab_timer */
	CNLAB_OP_TIMER_STOP = 4,
	CNLAB_OP_REGISTER = 5,		/* args: struct cnlab_id_arg */
	CNLAB_OP_UNREGISTER = 6,	/* args: struct cnlab_id_arg */
	CNLAB_OP_ECHO_MODE = 7,		/* args: struct cnlab_echo_mode */
};

/*
 * CNLAB_OP_BURST: send count (up to CNLAB_MAX_COUNT) messages of size bytes
 * (at least sizeof(struct cnlab_bcast)) with the id {CNLAB_IDX,
 * CNLAB_BCAST_VAL}, to group (1 to CNLAB_GROUPS) or, if group is 0, to
 * portid. Each group, and unicast as a whole, counts its own seq up from 0.
 * A burst whose sender gets a fatal signal stops (status -EINTR).
 */
struct cnlab_burst {
	__u32 group;
	__u32 portid;
	__u32 count;
	__u32 size;
};

/*
 * The result of CNLAB_OP_BURST: the seqs used (count of them from seq), and
 * how the sends went. (Fields here have no underscores: cgo -godefs would
 * strip what comes before one.)
 */
struct cnlab_burst_result {
	__u32 seq;
	__u32 count;
	__u32 ok;
	__u32 failed;
};

/*
 * CNLAB_OP_TIMER_START: broadcast to group (1 to CNLAB_GROUPS) every period
 * ms (1 to CNLAB_MAX_PERIOD), as cn_test.c.
 */
struct cnlab_timer {
	__u32 group;
	__u32 period;
};

/*
 * CNLAB_OP_REGISTER and CNLAB_OP_UNREGISTER: a further id that echoes.
 * Register answers -EEXIST for an id it registered already, -ENOSPC when
 * all CNLAB_MAX_EXTRA_IDS slots are used, and -EINVAL for an id the core
 * has a callback for otherwise (cnlab's echo and control ids, or another
 * module's); unregister answers -ENOENT for an id it did not register.
 */
struct cnlab_id_arg {
	__u32 idx;
	__u32 val;
};

/*
 * CNLAB_OP_ECHO_MODE: how the echo id answers its next count (up to
 * CNLAB_MAX_COUNT) requests; delay is in ms, up to CNLAB_MAX_DELAY; reserved
 * must be zero.
 */
enum cnlab_echo_modes {
	CNLAB_ECHO_NORMAL = 0,
	CNLAB_ECHO_TWICE = 1,		/* the reply, sent twice */
	CNLAB_ECHO_WRONG_ACK = 2,	/* ack = seq + 2 */
	CNLAB_ECHO_DELAY = 3,		/* the reply, delay ms later */
	CNLAB_ECHO_NONE = 4,		/* no reply */
};

struct cnlab_echo_mode {
	__u32 mode;
	__u32 count;
	__u32 delay;
	__u32 reserved;
};

/* The start of every kernel-initiated message's data. */
enum cnlab_bcast_kinds {
	CNLAB_BCAST_BURST = 1,
	CNLAB_BCAST_TIMER = 2,
};

struct cnlab_bcast {
	__u32 kind;
	__u32 group;		/* 0 for unicast */
	__u64 ktime;		/* ktime_get_ns() when sent */
};

/* A notification: id is now registered (on = 1) or unregistered (on = 0). */
struct cnlab_notify {
	__u32 idx;
	__u32 val;
	__u32 on;
	__u32 reserved;
};

/* A control request: this header, then the operation's arguments; reserved must be zero. */
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
 * What the sends to one destination returned: dests[0] of struct cnlab_stats
 * is every unicast, dests[g] group g. ok counts sends that returned 0 or more.
 */
struct cnlab_dest_stats {
	__u64 sent;
	__u64 ok;
	__u64 esrch;		/* broadcast: no listener, or every listener overran */
	__u64 eagain;		/* unicast: the receiver's queue was full */
	__u64 econnrefused;	/* unicast: no such port */
	__u64 enomem;
	__u64 other;
};

/*
 * One slot of the further ids, extra[i] of struct cnlab_stats: the id
 * registered in it (used = 1), or the one last registered there (used = 0:
 * the id and counts stay as they were when it went), and what the further
 * ids' callback counted under it since that registration: the messages it
 * received for that id, and those of them that were invalid. A replied
 * message carries the id of the slot it was counted under. CNLAB_OP_REGISTER
 * takes the lowest free slot and starts its counts at zero. A message whose
 * callback runs while no slot holds its id (the id went meanwhile) is counted
 * in extra_received only; one whose callback the core had found before its
 * id was unregistered and registered again is counted under the new
 * registration. extra_received and extra_invalid change with the slots'
 * counts, under one lock: a reading never has more in the slots.
 */
struct cnlab_extra_stats {
	__u32 idx;
	__u32 val;
	__u32 used;
	__u32 reserved;
	__u64 received;
	__u64 invalid;
};

/*
 * The module's counters, the result of CNLAB_OP_GET_STATS.
 * received counts every message delivered to the echo callback, valid or not,
 * invalid those of them that were malformed; extra_received and
 * extra_invalid the same for the further ids, all slots together (extra[]
 * has them per slot).
 * send_errors[e] counts sends of any kind that failed with -e, and
 * allocations that failed, as ENOMEM (e <= CNLAB_ERRNO_MAX; the last slot
 * takes the rest).
 * allocs and frees count the module's own allocations, which must be equal
 * once the module is idle; a reading is taken before its own reply is
 * allocated.
 * late_pending and late_bytes are the late replies waiting now and the
 * memory they hold, late_bytes_max the most they ever held; late_dropped
 * counts late replies not sent because their requester had closed its
 * socket, whose port another socket may have bound since.
 */
struct cnlab_stats {
	__u64 received;
	__u64 replied;
	__u64 invalid;
	__u64 ctl_received;
	__u64 ctl_invalid;
	__u64 ctl_refused;
	__u64 extra_received;
	__u64 extra_invalid;
	__u64 timer_ticks;
	__u64 notifications;
	__u64 allocs;
	__u64 frees;
	__u64 held;		/* waits in the hold_at test hook */
	__u64 late_pending;
	__u64 late_bytes;
	__u64 late_bytes_max;
	__u64 late_dropped;
	__u64 send_errors[CNLAB_ERRNO_SLOTS];
	struct cnlab_dest_stats dests[CNLAB_GROUPS + 1];
	struct cnlab_extra_stats extra[CNLAB_MAX_EXTRA_IDS];
};

#endif /* CNLAB_WIRE_H */
