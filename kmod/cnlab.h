/* SPDX-License-Identifier: GPL-2.0 */
/* cnlab.h - what the module's files share. */
#ifndef CNLAB_H
#define CNLAB_H

#include <linux/atomic.h>
#include <linux/connector.h>

#include "cnlab_wire.h"

/*
 * The files in the order they are declared here, each using only those
 * before it, none calling back: cnlab_msg.c (the counters), cnlab_gate.c,
 * cnlab_echo.c, cnlab_ctl.c; and cnlab_main.c, loading and unloading, which
 * uses them all and declares nothing here.
 */

/* cnlab_msg.c: the counters, allocations, and sending messages. */

struct cnlab_dest_counters {
	atomic64_t sent;
	atomic64_t ok;
	atomic64_t esrch;
	atomic64_t eagain;
	atomic64_t econnrefused;
	atomic64_t enomem;
	atomic64_t other;
};

struct cnlab_counters {
	atomic64_t received;
	atomic64_t replied;
	atomic64_t invalid;
	atomic64_t ctl_received;
	atomic64_t ctl_invalid;
	atomic64_t ctl_refused;
	atomic64_t extra_received;
	atomic64_t extra_invalid;
	atomic64_t timer_ticks;
	atomic64_t notifications;
	atomic64_t allocs;
	atomic64_t frees;
	atomic64_t held;
	atomic64_t send_errors[CNLAB_ERRNO_SLOTS];
	struct cnlab_dest_counters dests[CNLAB_GROUPS + 1];
};

extern struct cnlab_counters cnlab_counters;
extern u32 cnlab_idx;

void *cnlab_alloc(size_t size, gfp_t gfp);
void cnlab_free(const void *p);
struct cn_msg *cnlab_msg_alloc(size_t data_len, gfp_t gfp);
bool cnlab_msg_len_ok(const struct cn_msg *msg);
int cnlab_send(struct cn_msg *msg, u32 portid, u32 group, gfp_t gfp);
int cnlab_unicast(struct cn_msg *msg, u32 portid);
u32 cnlab_next_seq(u32 group);
void cnlab_notify(const struct cb_id *id, bool on);

/* cnlab_gate.c: the gate callbacks pass, and the hold_at test hook. */
extern unsigned int cnlab_hold_at;

bool cnlab_enter(void);
void cnlab_leave(void);
void cnlab_gate_close(void);
bool cnlab_stopping(void);
void cnlab_set_stopping(void);

/* The hold_at test hook's places. */
#define CNLAB_HOLD_CTL		1
#define CNLAB_HOLD_ECHO_LATE	2
#define CNLAB_HOLD_LATE_WORK	4
void cnlab_hold(unsigned int where);

/* cnlab_echo.c: the echo id, its reply helper, and late replies. */
extern int cnlab_ack_skew;

struct cn_msg *cnlab_reply_alloc(const struct cn_msg *req, u32 ack, gfp_t gfp);
void cnlab_echo_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp);
int cnlab_echo_set_mode(const struct cnlab_echo_mode *m);
void cnlab_late_stats(struct cnlab_stats *out);
int cnlab_echo_init(void);
void cnlab_echo_exit(void);

/*
 * cnlab_ctl.c: the control id, and the bursts, timer and further ids it
 * starts.
 */
void cnlab_ctl_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp);
void cnlab_ctl_init(void);
void cnlab_ctl_exit(void);
void cnlab_ctl_exit_ids(void);

#endif /* CNLAB_H */
