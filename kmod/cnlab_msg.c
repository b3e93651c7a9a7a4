// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_msg.c - what every part uses for its messages: the counters,
 * allocations (counted), the length check of what arrived, and sending
 * (counted by destination and errno), with the seqs and notifications of
 * what cnlab sends on its own.
 */
#include <linux/gfp.h>
#include <linux/netlink.h>
#include <linux/slab.h>

#include "cnlab.h"
#include "cnlab_compat.h"

struct cnlab_counters cnlab_counters;

/* The idx of every id cnlab sends from. */
u32 cnlab_idx;

/* Allocations are counted, and their failures as ENOMEM, here only. */
void *cnlab_alloc(size_t size, gfp_t gfp)
{
	void *p = kzalloc(size, gfp | __GFP_NOWARN);

	if (!p) {
		atomic64_inc(&cnlab_counters.send_errors[ENOMEM]);
		return NULL;
	}
	atomic64_inc(&cnlab_counters.allocs);
	return p;
}

void cnlab_free(const void *p)
{
	if (!p)
		return;
	kfree(p);
	atomic64_inc(&cnlab_counters.frees);
}

/* A zeroed message with room for data_len bytes of data, len set. */
struct cn_msg *cnlab_msg_alloc(size_t data_len, gfp_t gfp)
{
	struct cn_msg *msg;

	/* msg->len is a u16; nothing cnlab sends comes near it. */
	if (WARN_ON_ONCE(data_len > CNLAB_MAX_DATA))
		return NULL;
	msg = cnlab_alloc(sizeof(*msg) + data_len, gfp);
	if (msg)
		msg->len = data_len;
	return msg;
}

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

static atomic_t cnlab_seqs[CNLAB_GROUPS + 1];

/*
 * The next seq of what cnlab sends to group (0: unicast) on its own, not in
 * reply: each group counts up from 0.
 */
u32 cnlab_next_seq(u32 group)
{
	return (u32)atomic_inc_return(&cnlab_seqs[group]) - 1;
}

/*
 * Announces on CNLAB_NOTIFY_GROUP that cnlab registered or removed id: the
 * core's own {-1, -1} notification that connector.rst describes is gone.
 */
void cnlab_notify(const struct cb_id *id, bool on)
{
	struct cnlab_notify *n;
	struct cn_msg *msg;

	atomic64_inc(&cnlab_counters.notifications);
	msg = cnlab_msg_alloc(sizeof(*n), GFP_KERNEL);
	if (!msg)
		return;
	msg->id.idx = cnlab_idx;
	msg->id.val = CNLAB_NOTIFY_VAL;
	msg->seq = cnlab_next_seq(CNLAB_NOTIFY_GROUP);
	n = (struct cnlab_notify *)msg->data;
	n->idx = id->idx;
	n->val = id->val;
	n->on = on;
	cnlab_send(msg, 0, CNLAB_NOTIFY_GROUP, GFP_KERNEL);
	cnlab_free(msg);
}
