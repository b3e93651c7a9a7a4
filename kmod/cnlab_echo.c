// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_echo.c - the echo callback: one reply per valid request, unicast to
 * the sender, with the request's id, seq and payload and ack = seq + 1.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "cnlab.h"

void cnlab_echo_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp)
{
	atomic64_inc(&cnlab_counters.received);

	if (!cnlab_msg_len_ok(msg)) {
		atomic64_inc(&cnlab_counters.invalid);
		return;
	}

	/*
	 * The reply is built in the request's own buffer: the skb belongs to
	 * this delivery alone, and cn_netlink_send_mult() copies the message
	 * into a new skb, so nothing reads the request after this.
	 */
	msg->ack = msg->seq + 1 + cnlab_ack_skew;
	if (cnlab_unicast(msg, nsp->portid) >= 0)
		atomic64_inc(&cnlab_counters.replied);
}
