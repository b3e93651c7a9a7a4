/* SPDX-License-Identifier: GPL-2.0 */
/* cnlab.h - what the module's files share. */
#ifndef CNLAB_H
#define CNLAB_H

#include <linux/atomic.h>
#include <linux/connector.h>

#include "cnlab_wire.h"

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
	atomic64_t timer_ticks;
	atomic64_t notifications;
	atomic64_t allocs;
	atomic64_t frees;
	atomic64_t held;
	atomic64_t send_errors[CNLAB_ERRNO_SLOTS];
	struct cnlab_dest_counters dests[CNLAB_GROUPS + 1];
};

extern struct cnlab_counters cnlab_counters;
extern int cnlab_ack_skew;
extern u32 cnlab_idx;

/* The hold_at test hook's places. */
#define CNLAB_HOLD_CTL		1
#define CNLAB_HOLD_ECHO_LATE	2
#define CNLAB_HOLD_LATE_WORK	4
void cnlab_hold(unsigned int where);

/* cnlab_msg.c */
bool cnlab_msg_len_ok(const struct cn_msg *msg);
struct cn_msg *cnlab_msg_alloc(size_t data_len, gfp_t gfp);
void cnlab_msg_free(struct cn_msg *msg);
int cnlab_send(struct cn_msg *msg, u32 portid, u32 group, gfp_t gfp);
int cnlab_unicast(struct cn_msg *msg, u32 portid);
void cnlab_stats_snapshot(struct cnlab_stats *out);

/* cnlab_echo.c */
void cnlab_echo_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp);
int cnlab_echo_set_mode(const struct cnlab_echo_mode *m);
int cnlab_echo_init(void);
void cnlab_echo_exit(void);

/* cnlab_bcast.c */
int cnlab_burst(const struct cnlab_burst *b, struct cnlab_burst_result *res);
int cnlab_timer_start(const struct cnlab_timer *t);
void cnlab_timer_stop(void);
u32 cnlab_next_seq(u32 group);

/* cnlab_ids.c */
void cnlab_notify(const struct cb_id *id, bool on);
int cnlab_register_extra(const struct cnlab_id_arg *a);
int cnlab_unregister_extra(const struct cnlab_id_arg *a);
void cnlab_unregister_all_extra(void);

/* cnlab_ctl.c */
void cnlab_ctl_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp);

#endif /* CNLAB_H */
