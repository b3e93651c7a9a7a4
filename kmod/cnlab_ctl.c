// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_ctl.c - the control callback: requests from tests and cnctl, each
 * answered with a struct cnlab_ctl_reply and the operation's result.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/string.h>

#include "cnlab.h"

struct cnlab_stats_reply {
	struct cn_msg msg;
	struct cnlab_ctl_reply hdr;
	struct cnlab_stats stats;
} __packed;

static void cnlab_ctl_get_stats(const struct cn_msg *req, u32 portid)
{
	struct cnlab_stats_reply *r;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r) {
		atomic64_inc(&cnlab_counters.send_errors[ENOMEM]);
		return;
	}
	r->msg.id = req->id;
	r->msg.seq = req->seq;
	r->msg.ack = req->seq + 1;
	r->msg.len = sizeof(r->hdr) + sizeof(r->stats);
	r->hdr.op = CNLAB_OP_GET_STATS;
	cnlab_stats_snapshot(&r->stats);
	cnlab_unicast(&r->msg, portid);
	kfree(r);
}

static void cnlab_ctl_refuse(const struct cn_msg *req, u32 op, int status,
			     u32 portid)
{
	struct {
		struct cn_msg msg;
		struct cnlab_ctl_reply hdr;
	} __packed r = {
		.msg.id = req->id,
		.msg.seq = req->seq,
		.msg.ack = req->seq + 1,
		.msg.len = sizeof(r.hdr),
		.hdr.op = op,
		.hdr.status = status,
	};

	cnlab_unicast(&r.msg, portid);
}

void cnlab_ctl_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp)
{
	const struct cnlab_ctl_req *req = (const void *)msg->data;

	atomic64_inc(&cnlab_counters.ctl_received);

	if (!cnlab_msg_len_ok(msg) || msg->len < sizeof(*req)) {
		atomic64_inc(&cnlab_counters.ctl_invalid);
		return;
	}

	switch (req->op) {
	case CNLAB_OP_GET_STATS:
		cnlab_ctl_get_stats(msg, nsp->portid);
		break;
	default:
		cnlab_ctl_refuse(msg, req->op, -EOPNOTSUPP, nsp->portid);
		break;
	}
}
