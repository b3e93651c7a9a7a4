/* SPDX-License-Identifier: GPL-2.0 */
/* cnlab.h - what the module's files share. */
#ifndef CNLAB_H
#define CNLAB_H

#include <linux/atomic.h>
#include <linux/connector.h>

#include "cnlab_wire.h"

struct cnlab_counters {
	atomic64_t received;
	atomic64_t replied;
	atomic64_t invalid;
	atomic64_t ctl_received;
	atomic64_t ctl_invalid;
	atomic64_t send_errors[CNLAB_ERRNO_SLOTS];
};

extern struct cnlab_counters cnlab_counters;
extern int cnlab_ack_skew;

bool cnlab_msg_len_ok(const struct cn_msg *msg);
int cnlab_unicast(struct cn_msg *msg, u32 portid);
void cnlab_stats_snapshot(struct cnlab_stats *out);

void cnlab_echo_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp);
void cnlab_ctl_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp);

#endif /* CNLAB_H */
