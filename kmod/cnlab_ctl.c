// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_ctl.c - the control callback: requests from tests and cnctl, each
 * answered with a struct cnlab_ctl_reply and the operation's result.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/user_namespace.h>

#include "cnlab.h"

/* Answers req: status, then result_len bytes of result. */
static void cnlab_ctl_answer(const struct cn_msg *req, u32 op, int status,
			     const void *result, size_t result_len, u32 portid)
{
	struct cnlab_ctl_reply *hdr;
	struct cn_msg *msg;

	msg = cnlab_msg_alloc(sizeof(*hdr) + result_len, GFP_KERNEL);
	if (!msg)
		return;
	msg->id = req->id;
	msg->seq = req->seq;
	msg->ack = req->seq + 1;
	hdr = (struct cnlab_ctl_reply *)msg->data;
	hdr->op = op;
	hdr->status = status;
	if (result_len)
		memcpy(msg->data + sizeof(*hdr), result, result_len);
	cnlab_unicast(msg, portid);
	cnlab_msg_free(msg);
}

static void cnlab_ctl_get_stats(const struct cn_msg *req, u32 portid)
{
	struct cnlab_stats *st;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st) {
		cnlab_ctl_answer(req, CNLAB_OP_GET_STATS, -ENOMEM, NULL, 0, portid);
		return;
	}
	atomic64_inc(&cnlab_counters.allocs);
	/* The snapshot counts this free already, so that idle is balanced. */
	atomic64_inc(&cnlab_counters.frees);
	cnlab_stats_snapshot(st);
	cnlab_ctl_answer(req, CNLAB_OP_GET_STATS, 0, st, sizeof(*st), portid);
	kfree(st);
}

/* The size of each operation's arguments. */
static const size_t cnlab_ctl_args[] = {
	[CNLAB_OP_GET_STATS] = 0,
	[CNLAB_OP_BURST] = sizeof(struct cnlab_burst),
	[CNLAB_OP_TIMER_START] = sizeof(struct cnlab_timer),
	[CNLAB_OP_TIMER_STOP] = 0,
	[CNLAB_OP_REGISTER] = sizeof(struct cnlab_id_arg),
	[CNLAB_OP_UNREGISTER] = sizeof(struct cnlab_id_arg),
	[CNLAB_OP_ECHO_MODE] = sizeof(struct cnlab_echo_mode),
};

void cnlab_ctl_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp)
{
	const struct cnlab_ctl_req *req = (const void *)msg->data;
	const void *args = msg->data + sizeof(*req);
	struct cnlab_burst_result burst;
	size_t nargs;
	int status;
	u32 op;

	atomic64_inc(&cnlab_counters.ctl_received);

	if (!cnlab_msg_len_ok(msg) || msg->len < sizeof(*req)) {
		atomic64_inc(&cnlab_counters.ctl_invalid);
		return;
	}
	op = req->op;
	nargs = msg->len - sizeof(*req);
	if (op == 0 || op >= ARRAY_SIZE(cnlab_ctl_args)) {
		cnlab_ctl_answer(msg, op, -EOPNOTSUPP, NULL, 0, nsp->portid);
		return;
	}
	if (nargs != cnlab_ctl_args[op]) {
		atomic64_inc(&cnlab_counters.ctl_invalid);
		cnlab_ctl_answer(msg, op, -EINVAL, NULL, 0, nsp->portid);
		return;
	}
	if (op == CNLAB_OP_GET_STATS) {
		cnlab_ctl_get_stats(msg, nsp->portid);
		return;
	}

	/* Everything else changes state: as cn_proc, only for the admin. */
	if (!__netlink_ns_capable(nsp, &init_user_ns, CAP_NET_ADMIN)) {
		atomic64_inc(&cnlab_counters.ctl_refused);
		cnlab_ctl_answer(msg, op, -EPERM, NULL, 0, nsp->portid);
		return;
	}

	cnlab_hold(CNLAB_HOLD_CTL);
	switch (op) {
	case CNLAB_OP_BURST:
		status = cnlab_burst(args, &burst);
		if (!status) {
			cnlab_ctl_answer(msg, op, 0, &burst, sizeof(burst),
					 nsp->portid);
			return;
		}
		break;
	case CNLAB_OP_TIMER_START:
		status = cnlab_timer_start(args);
		break;
	case CNLAB_OP_TIMER_STOP:
		cnlab_timer_stop();
		status = 0;
		break;
	case CNLAB_OP_REGISTER:
		status = cnlab_register_extra(args);
		break;
	case CNLAB_OP_UNREGISTER:
		status = cnlab_unregister_extra(args);
		break;
	case CNLAB_OP_ECHO_MODE:
		status = cnlab_echo_set_mode(args);
		break;
	default:
		status = -EOPNOTSUPP;
		break;
	}
	cnlab_ctl_answer(msg, op, status, NULL, 0, nsp->portid);
}
