// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_echo.c - the echo callback: one reply per valid request, unicast to
 * the sender, with the request's id, seq and payload and ack = seq + 1. The
 * control channel can make the next requests' replies misbehave on purpose
 * (twice, wrong ack, late, none), to show how clients handle it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "cnlab.h"

static DEFINE_SPINLOCK(cnlab_mode_lock);
static struct cnlab_echo_mode cnlab_mode;	/* under cnlab_mode_lock */

/*
 * Late replies wait on cnlab_late_wq. Each is on cnlab_late_list until its
 * work takes it off, under cnlab_late_lock, to send and free it; so anything
 * on the list is alive while the lock is held, which is how unloading finds
 * and hurries them.
 */
struct cnlab_late_reply {
	struct delayed_work work;
	struct list_head node;
	u32 portid;
	struct cn_msg *msg;
};

static struct workqueue_struct *cnlab_late_wq;
static DEFINE_SPINLOCK(cnlab_late_lock);
static LIST_HEAD(cnlab_late_list);

int cnlab_echo_set_mode(const struct cnlab_echo_mode *m)
{
	if (m->mode > CNLAB_ECHO_NONE || m->delay > 60000)
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

static void cnlab_late_send(struct work_struct *work)
{
	struct cnlab_late_reply *r =
		container_of(to_delayed_work(work), struct cnlab_late_reply, work);

	cnlab_hold(CNLAB_HOLD_LATE_WORK);
	spin_lock(&cnlab_late_lock);
	list_del(&r->node);
	spin_unlock(&cnlab_late_lock);

	if (cnlab_unicast(r->msg, r->portid) >= 0)
		atomic64_inc(&cnlab_counters.replied);
	cnlab_msg_free(r->msg);
	atomic64_inc(&cnlab_counters.frees);
	kfree(r);
}

static int cnlab_reply_late(const struct cn_msg *msg, u32 portid, u32 delay_ms)
{
	struct cnlab_late_reply *r;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	atomic64_inc(&cnlab_counters.allocs);
	r->msg = cnlab_msg_alloc(msg->len, GFP_KERNEL);
	if (!r->msg) {
		atomic64_inc(&cnlab_counters.frees);
		kfree(r);
		return -ENOMEM;
	}
	memcpy(r->msg, msg, sizeof(*msg) + msg->len);
	r->portid = portid;
	INIT_DELAYED_WORK(&r->work, cnlab_late_send);

	spin_lock(&cnlab_late_lock);
	list_add_tail(&r->node, &cnlab_late_list);
	queue_delayed_work(cnlab_late_wq, &r->work, msecs_to_jiffies(delay_ms));
	spin_unlock(&cnlab_late_lock);
	return 0;
}

void cnlab_echo_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp)
{
	u32 delay_ms = 0;
	u32 mode;

	atomic64_inc(&cnlab_counters.received);

	if (!cnlab_msg_len_ok(msg)) {
		atomic64_inc(&cnlab_counters.invalid);
		return;
	}

	mode = cnlab_take_mode(&delay_ms);
	if (mode == CNLAB_ECHO_NONE)
		return;

	/*
	 * The reply is built in the request's own buffer: the skb belongs to
	 * this delivery alone, and cn_netlink_send_mult() copies the message
	 * into a new skb, so nothing reads the request after this.
	 */
	msg->ack = msg->seq + 1 + cnlab_ack_skew;
	if (mode == CNLAB_ECHO_WRONG_ACK)
		msg->ack++;

	if (mode == CNLAB_ECHO_DELAY) {
		cnlab_hold(CNLAB_HOLD_ECHO_LATE);
		if (cnlab_reply_late(msg, nsp->portid, delay_ms))
			atomic64_inc(&cnlab_counters.send_errors[ENOMEM]);
		return;
	}
	if (cnlab_unicast(msg, nsp->portid) >= 0)
		atomic64_inc(&cnlab_counters.replied);
	if (mode == CNLAB_ECHO_TWICE && cnlab_unicast(msg, nsp->portid) >= 0)
		atomic64_inc(&cnlab_counters.replied);
}

int cnlab_echo_init(void)
{
	cnlab_late_wq = alloc_workqueue("cnlab_late", 0, 0);
	return cnlab_late_wq ? 0 : -ENOMEM;
}

/*
 * Called once no callback can run: late replies still waiting are sent now
 * rather than dropped, and the workqueue's destruction waits for them.
 */
void cnlab_echo_exit(void)
{
	struct cnlab_late_reply *r;

	spin_lock(&cnlab_late_lock);
	list_for_each_entry(r, &cnlab_late_list, node)
		mod_delayed_work(cnlab_late_wq, &r->work, 0);
	spin_unlock(&cnlab_late_lock);
	destroy_workqueue(cnlab_late_wq);
}
