// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_msg.c - checking what arrived, allocating and sending messages, and
 * counting all of it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/netlink.h>
#include <linux/slab.h>

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

/* A zeroed message with room for data_len bytes of data, len set. */
struct cn_msg *cnlab_msg_alloc(size_t data_len, gfp_t gfp)
{
	struct cn_msg *msg;

	msg = kzalloc(sizeof(*msg) + data_len, gfp | __GFP_NOWARN);
	if (!msg) {
		atomic64_inc(&cnlab_counters.send_errors[ENOMEM]);
		return NULL;
	}
	atomic64_inc(&cnlab_counters.allocs);
	msg->len = data_len;
	return msg;
}

void cnlab_msg_free(struct cn_msg *msg)
{
	if (!msg)
		return;
	atomic64_inc(&cnlab_counters.frees);
	kfree(msg);
}

static void cnlab_count_send(u32 group, int ret)
{
	struct cnlab_dest_counters *d = &cnlab_counters.dests[group];

	atomic64_inc(&d->sent);
	if (ret >= 0) {
		atomic64_inc(&d->ok);
		return;
	}
	atomic64_inc(&cnlab_counters.send_errors[min(-ret, CNLAB_ERRNO_SLOTS - 1)]);
	switch (ret) {
	case -ESRCH:
		atomic64_inc(&d->esrch);
		break;
	case -EAGAIN:
		atomic64_inc(&d->eagain);
		break;
	case -ECONNREFUSED:
		atomic64_inc(&d->econnrefused);
		break;
	case -ENOMEM:
		atomic64_inc(&d->enomem);
		break;
	default:
		atomic64_inc(&d->other);
		break;
	}
}

/*
 * Sends to portid, or to group (1 to CNLAB_GROUPS) when portid is 0, and
 * counts what it returned. A unicast never blocks, whatever gfp allows:
 * with a blocking gfp, netlink_unicast() would sleep on a full receive
 * queue, and a callback runs in the sender's own send(), so a sender that
 * does not read would wait for itself. A full queue is the connector's
 * documented loss instead, counted as -EAGAIN.
 */
int cnlab_send(struct cn_msg *msg, u32 portid, u32 group, gfp_t gfp)
{
	int ret;

	if (portid) {
		group = 0;
		gfp &= ~__GFP_DIRECT_RECLAIM;
	}
	if (group > CNLAB_GROUPS)
		return -EINVAL;
	ret = cnlab_netlink_send_mult(msg, msg->len, portid, group,
				      gfp | __GFP_NOWARN);
	cnlab_count_send(group, ret);
	return ret;
}

int cnlab_unicast(struct cn_msg *msg, u32 portid)
{
	return cnlab_send(msg, portid, 0, GFP_NOWAIT);
}

static void cnlab_dest_snapshot(struct cnlab_dest_stats *out,
				struct cnlab_dest_counters *d)
{
	out->sent = atomic64_read(&d->sent);
	out->ok = atomic64_read(&d->ok);
	out->esrch = atomic64_read(&d->esrch);
	out->eagain = atomic64_read(&d->eagain);
	out->econnrefused = atomic64_read(&d->econnrefused);
	out->enomem = atomic64_read(&d->enomem);
	out->other = atomic64_read(&d->other);
}

void cnlab_stats_snapshot(struct cnlab_stats *out)
{
	struct cnlab_counters *c = &cnlab_counters;
	int i;

	out->received = atomic64_read(&c->received);
	out->replied = atomic64_read(&c->replied);
	out->invalid = atomic64_read(&c->invalid);
	out->ctl_received = atomic64_read(&c->ctl_received);
	out->ctl_invalid = atomic64_read(&c->ctl_invalid);
	out->ctl_refused = atomic64_read(&c->ctl_refused);
	out->extra_received = atomic64_read(&c->extra_received);
	out->timer_ticks = atomic64_read(&c->timer_ticks);
	out->notifications = atomic64_read(&c->notifications);
	out->allocs = atomic64_read(&c->allocs);
	out->frees = atomic64_read(&c->frees);
	out->held = atomic64_read(&c->held);
	for (i = 0; i < CNLAB_ERRNO_SLOTS; i++)
		out->send_errors[i] = atomic64_read(&c->send_errors[i]);
	for (i = 0; i <= CNLAB_GROUPS; i++)
		cnlab_dest_snapshot(&out->dests[i], &c->dests[i]);
}
