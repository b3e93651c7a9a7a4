// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_echo.c - the echo id: one reply per valid request, unicast to the
 * sender, with the request's id, seq and payload and ack = seq + 1, built
 * by the reply helper that the further ids (cnlab_ctl.c) answer with too;
 * and the modes that make the echo id's next replies misbehave on purpose
 * (twice, wrong ack, late, none), to show how clients handle it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <net/sock.h>

#include "cnlab.h"
#include "cnlab_compat.h"

/* The ack_skew module parameter (cnlab_main.c). */
int cnlab_ack_skew;

static DEFINE_SPINLOCK(cnlab_mode_lock);
static struct cnlab_echo_mode cnlab_mode;	/* under cnlab_mode_lock */

int cnlab_echo_set_mode(const struct cnlab_echo_mode *m)
{
	if (m->mode > CNLAB_ECHO_NONE || m->count > CNLAB_MAX_COUNT ||
	    m->delay > CNLAB_MAX_DELAY || m->reserved)
		return -EINVAL;
	spin_lock(&cnlab_mode_lock);
	cnlab_mode = *m;
	spin_unlock(&cnlab_mode_lock);
	return 0;
}

/* The mode for this request: the set one while its count lasts. */
static u32 cnlab_take_mode(u32 *delay_ms)
{
	u32 mode = CNLAB_ECHO_NORMAL;

	spin_lock(&cnlab_mode_lock);
	if (cnlab_mode.count) {
		cnlab_mode.count--;
		mode = cnlab_mode.mode;
		*delay_ms = cnlab_mode.delay;
	}
	spin_unlock(&cnlab_mode_lock);
	return mode;
}

/*
 * The reply to req, with ack, in a buffer of its own: the request's is not
 * private to its callback (a sender's destination group, or an nlmon tap,
 * holds clones of the same skb), as cn_proc builds its replies apart too.
 */
struct cn_msg *cnlab_reply_alloc(const struct cn_msg *req, u32 ack, gfp_t gfp)
{
	struct cn_msg *reply;

	reply = cnlab_msg_alloc(req->len, gfp);
	if (!reply)
		return NULL;
	memcpy(reply, req, sizeof(*req) + req->len);
	reply->ack = ack;
	return reply;
}

/*
 * Late replies wait on cnlab_late_wq, each on cnlab_late_list until its
 * work takes it off, under cnlab_late_lock, to send and free it. Together
 * they hold at most CNLAB_MAX_LATE_BYTES, as the allocator rounds them,
 * charged to the memory cgroup of the task that asked for them.
 *
 * A late reply goes to a port, and the port of a closed socket is anyone's
 * to bind(): an explicit nl_pid needs no privilege. So when the requester's
 * socket is released, its late replies are marked orphaned (on the
 * NETLINK_URELEASE notification, cnlab_late_release()), and dropped
 * instead of sent to whoever binds the port next. The requester's socket
 * is not held until the reply goes: a closed netlink socket keeps its
 * receive queue until it is freed (netlink_sock_destruct()), so a late
 * reply from each of many sockets closed with a full queue would pin a
 * receive buffer's worth apiece, far beyond CNLAB_MAX_LATE_BYTES.
 *
 * Two windows remain, both between netlink_release() freeing the port
 * (netlink_remove()) and notifying a few steps later, because the
 * notification names a port, not a socket: a socket that binds the port
 * in between gets the reply whose work runs in that very gap; and a
 * request from a socket that binds the port in between (autobind tries
 * the process's tgid first, so another socket of the same process is
 * likely to) is queued in time to be marked with the released one's, and
 * its late reply is dropped (and counted in late_dropped).
 */
struct cnlab_late_reply {
	struct delayed_work work;
	struct list_head node;
	size_t bytes;
	const struct net *net;	/* the requester's, compared, never followed */
	u32 portid;
	bool orphaned;		/* under cnlab_late_lock */
	struct cn_msg *msg;
};

static struct workqueue_struct *cnlab_late_wq;
static DEFINE_SPINLOCK(cnlab_late_lock);
/* Under cnlab_late_lock: */
static LIST_HEAD(cnlab_late_list);
static u64 cnlab_late_pending;
static u64 cnlab_late_bytes;
static u64 cnlab_late_bytes_max;
static u64 cnlab_late_dropped;

void cnlab_late_stats(struct cnlab_stats *out)
{
	spin_lock(&cnlab_late_lock);
	out->late_pending = cnlab_late_pending;
	out->late_bytes = cnlab_late_bytes;
	out->late_bytes_max = cnlab_late_bytes_max;
	out->late_dropped = cnlab_late_dropped;
	spin_unlock(&cnlab_late_lock);
}

static bool cnlab_late_reserve(size_t bytes)
{
	bool ok = false;

	spin_lock(&cnlab_late_lock);
	if (cnlab_late_bytes + bytes <= CNLAB_MAX_LATE_BYTES) {
		cnlab_late_pending++;
		cnlab_late_bytes += bytes;
		cnlab_late_bytes_max = max(cnlab_late_bytes_max,
					   cnlab_late_bytes);
		ok = true;
	}
	spin_unlock(&cnlab_late_lock);
	return ok;
}

static void cnlab_late_unreserve(size_t bytes, bool dropped)
{
	spin_lock(&cnlab_late_lock);
	cnlab_late_pending--;
	cnlab_late_bytes -= bytes;
	if (dropped)
		cnlab_late_dropped++;
	spin_unlock(&cnlab_late_lock);
}

/*
 * Takes r off the list, sends it unless its requester's socket is gone,
 * and frees it. The check and the send are under one hold of the lock:
 * were the lock dropped between them, the socket could be released (its
 * notification finding r no longer listed) and the port bound by another
 * before the send. cnlab_unicast() does not sleep (GFP_NOWAIT, and a
 * unicast that may not block does not wait for room).
 */
static void cnlab_late_finish(struct cnlab_late_reply *r)
{
	size_t bytes = r->bytes;
	bool orphaned, sent = false;

	spin_lock(&cnlab_late_lock);
	list_del(&r->node);
	orphaned = r->orphaned;
	if (!orphaned)
		sent = cnlab_unicast(r->msg, r->portid) >= 0;
	spin_unlock(&cnlab_late_lock);

	if (sent)
		atomic64_inc(&cnlab_counters.replied);
	cnlab_free(r->msg);
	cnlab_free(r);
	cnlab_late_unreserve(bytes, orphaned);
}

static void cnlab_late_send(struct work_struct *work)
{
	struct cnlab_late_reply *r =
		container_of(to_delayed_work(work), struct cnlab_late_reply, work);

	cnlab_hold(CNLAB_HOLD_LATE_WORK);
	cnlab_late_finish(r);
}

/*
 * A NETLINK_CONNECTOR socket was released: the late replies to its port
 * are its no more. Called for every netlink socket with a port, in the
 * releasing task's context.
 */
static int cnlab_late_release(struct notifier_block *nb, unsigned long event,
			      void *ptr)
{
	const struct netlink_notify *n = ptr;
	struct cnlab_late_reply *r;

	if (event != NETLINK_URELEASE || n->protocol != NETLINK_CONNECTOR)
		return NOTIFY_DONE;
	spin_lock(&cnlab_late_lock);
	list_for_each_entry(r, &cnlab_late_list, node)
		if (r->portid == n->portid && net_eq(r->net, n->net))
			r->orphaned = true;
	spin_unlock(&cnlab_late_lock);
	return NOTIFY_DONE;
}

static struct notifier_block cnlab_late_nb = {
	.notifier_call = cnlab_late_release,
};

/*
 * Queues the reply to req, from the socket nsp describes, for delay_ms
 * later. -ENOSPC: the late replies hold all they may, so the caller answers
 * at once; -ENOMEM: the reply is lost (cnlab_alloc() counted it).
 *
 * nsp->sk is the requester's own socket: netlink_sendmsg() hands it to
 * netlink_unicast() as the sender, netlink_unicast_kernel() sets
 * NETLINK_CB(skb).sk to it (6.1 and 6.12 alike), and the callback runs
 * inside that send(), so the socket is there, and not yet released.
 */
static int cnlab_reply_late(const struct cn_msg *req, u32 ack,
			    const struct netlink_skb_parms *nsp, u32 delay_ms)
{
	size_t bytes = kmalloc_size_roundup(sizeof(struct cnlab_late_reply)) +
		       kmalloc_size_roundup(sizeof(*req) + req->len);
	struct cnlab_late_reply *r;

	if (!cnlab_late_reserve(bytes))
		return -ENOSPC;
	r = cnlab_alloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		goto err_unreserve;
	r->msg = cnlab_reply_alloc(req, ack, GFP_KERNEL_ACCOUNT);
	if (!r->msg)
		goto err_free_r;
	r->bytes = bytes;
	r->net = sock_net(nsp->sk);
	r->portid = nsp->portid;
	INIT_DELAYED_WORK(&r->work, cnlab_late_send);

	spin_lock(&cnlab_late_lock);
	list_add_tail(&r->node, &cnlab_late_list);
	queue_delayed_work(cnlab_late_wq, &r->work, msecs_to_jiffies(delay_ms));
	spin_unlock(&cnlab_late_lock);
	return 0;

err_free_r:
	cnlab_free(r);
err_unreserve:
	cnlab_late_unreserve(bytes, false);
	return -ENOMEM;
}

static void cnlab_echo(const struct cn_msg *req,
		       const struct netlink_skb_parms *nsp)
{
	u32 ack = req->seq + 1 + cnlab_ack_skew;
	u32 portid = nsp->portid;
	struct cn_msg *reply;
	u32 delay_ms = 0;
	u32 mode;

	atomic64_inc(&cnlab_counters.received);
	if (!cnlab_msg_len_ok(req)) {
		atomic64_inc(&cnlab_counters.invalid);
		return;
	}

	mode = cnlab_take_mode(&delay_ms);
	if (mode == CNLAB_ECHO_NONE)
		return;
	if (mode == CNLAB_ECHO_WRONG_ACK)
		ack++;
	if (mode == CNLAB_ECHO_DELAY) {
		cnlab_hold(CNLAB_HOLD_ECHO_LATE);
		/* While unloading, and beyond the bound, it goes at once. */
		if (!cnlab_stopping() &&
		    cnlab_reply_late(req, ack, nsp, delay_ms) != -ENOSPC)
			return;
	}

	reply = cnlab_reply_alloc(req, ack, GFP_KERNEL);
	if (!reply)
		return;
	if (cnlab_unicast(reply, portid) >= 0)
		atomic64_inc(&cnlab_counters.replied);
	if (mode == CNLAB_ECHO_TWICE && cnlab_unicast(reply, portid) >= 0)
		atomic64_inc(&cnlab_counters.replied);
	cnlab_free(reply);
}

void cnlab_echo_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp)
{
	if (!cnlab_enter())
		return;
	cnlab_echo(msg, nsp);
	cnlab_leave();
}

int cnlab_echo_init(void)
{
	int err;

	cnlab_late_wq = alloc_workqueue("cnlab_late", CNLAB_WQ_PERCPU, 0);
	if (!cnlab_late_wq)
		return -ENOMEM;
	err = netlink_register_notifier(&cnlab_late_nb);
	if (err)
		destroy_workqueue(cnlab_late_wq);
	return err;
}

/*
 * Called once no callback runs or can start one: late replies still
 * waiting are sent now rather than dropped, unless their requester's
 * socket is gone. Those whose work is already running are left to it
 * (cancel_delayed_work() fails on them, and their work takes them off the
 * list), and the workqueue's destruction waits for it; what is left on the
 * list then was cancelled. The cancelled stay on the list until sent, so
 * that a release of their requester's socket still marks them.
 */
void cnlab_echo_exit(void)
{
	struct cnlab_late_reply *r;

	spin_lock(&cnlab_late_lock);
	list_for_each_entry(r, &cnlab_late_list, node)
		cancel_delayed_work(&r->work);
	spin_unlock(&cnlab_late_lock);
	destroy_workqueue(cnlab_late_wq);

	for (;;) {
		spin_lock(&cnlab_late_lock);
		r = list_first_entry_or_null(&cnlab_late_list,
					     struct cnlab_late_reply, node);
		spin_unlock(&cnlab_late_lock);
		if (!r)
			break;
		cnlab_late_finish(r);
	}
	netlink_unregister_notifier(&cnlab_late_nb);
}
