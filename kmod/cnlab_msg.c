// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_msg.c - checking what arrived, sending replies, and counting both.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/netlink.h>

#include "cnlab.h"
#include "cnlab_compat.h"

struct cnlab_counters cnlab_counters;

/*
 * The core has already dropped a message whose cn_msg.len claims more data
 * than arrived; a len that claims less passes it, so it is caught here.
 * The netlink length may be exact or rounded up to NLMSG_ALIGNTO (ucon.c and
 * github.com/mdlayher/netlink both round it), so either is accepted.
 *
 * The callback gets the cn_msg, not the skb; cn_call_callback() took it from
 * nlmsg_data(), so its netlink header sits right in front of it.
 */
bool cnlab_msg_len_ok(const struct cn_msg *msg)
{
	const struct nlmsghdr *nlh = (const void *)msg - NLMSG_HDRLEN;
	u32 exact = NLMSG_LENGTH(sizeof(*msg) + msg->len);

	return nlh->nlmsg_len == exact || nlh->nlmsg_len == NLMSG_ALIGN(exact);
}

static void cnlab_count_send(int ret)
{
	int slot;

	if (ret >= 0)
		return;
	slot = min(-ret, CNLAB_ERRNO_SLOTS - 1);
	atomic64_inc(&cnlab_counters.send_errors[slot]);
}

/*
 * Replies never block: with a blocking gfp, netlink_unicast() would sleep on
 * a full receive queue, and the callback runs in the sender's own send(), so
 * a sender that does not read would wait for itself. A full queue is the
 * connector's documented loss instead, counted as -EAGAIN.
 */
int cnlab_unicast(struct cn_msg *msg, u32 portid)
{
	int ret;

	ret = cnlab_netlink_send_mult(msg, msg->len, portid, 0,
				      GFP_NOWAIT | __GFP_NOWARN);
	cnlab_count_send(ret);
	return ret;
}

void cnlab_stats_snapshot(struct cnlab_stats *out)
{
	int i;

	out->received = atomic64_read(&cnlab_counters.received);
	out->replied = atomic64_read(&cnlab_counters.replied);
	out->invalid = atomic64_read(&cnlab_counters.invalid);
	out->ctl_received = atomic64_read(&cnlab_counters.ctl_received);
	out->ctl_invalid = atomic64_read(&cnlab_counters.ctl_invalid);
	for (i = 0; i < CNLAB_ERRNO_SLOTS; i++)
		out->send_errors[i] =
			atomic64_read(&cnlab_counters.send_errors[i]);
}
