// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_main.c - the module's life: its parameters, the gate its callbacks
 * pass, loading and unloading; and what every part uses: the counters,
 * allocations, checking and sending messages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/netlink.h>
#include <linux/slab.h>

#include "cnlab.h"
#include "cnlab_compat.h"

static unsigned int echo_idx = CNLAB_IDX;
module_param(echo_idx, uint, 0444);
MODULE_PARM_DESC(echo_idx, "idx of the echo callback's id (default CN_NETLINK_USERS + 3, as samples/connector/cn_test.c)");

static unsigned int echo_val = CNLAB_ECHO_VAL;
module_param(echo_val, uint, 0444);
MODULE_PARM_DESC(echo_val, "val of the echo callback's id (default 0x456, as samples/connector/cn_test.c)");

static unsigned int ctl_idx = CNLAB_IDX;
module_param(ctl_idx, uint, 0444);
MODULE_PARM_DESC(ctl_idx, "idx of the control callback's id");

static unsigned int ctl_val = CNLAB_CTL_VAL;
module_param(ctl_val, uint, 0444);
MODULE_PARM_DESC(ctl_val, "val of the control callback's id");

int cnlab_ack_skew;
module_param_named(ack_skew, cnlab_ack_skew, int, 0444);
MODULE_PARM_DESC(ack_skew, "added to every echo reply's ack; nonzero breaks the echo on purpose, to prove that the suites notice (default 0)");

static unsigned int hold_at;
module_param(hold_at, uint, 0644);
MODULE_PARM_DESC(hold_at, "test hook widening races on purpose: wait, until unloading starts or 10 s pass, 1: in control operations that change state, 2: before queueing a late reply, 4: in a late reply's work (default 0)");

struct cnlab_counters cnlab_counters;

/* The idx of every id cnlab sends from. */
u32 cnlab_idx;

static struct cb_id cnlab_echo_id;
static struct cb_id cnlab_ctl_id;

/*
 * The gate. cn_del_callback() does not wait for a callback already running,
 * nor for one the core has found and is about to call: it unlinks the entry
 * and drops a reference (drivers/connector/cn_queue.c), and
 * cn_call_callback() calls it after releasing the queue's lock, holding no
 * reference on the module. So every callback body runs between
 * cnlab_enter() and cnlab_leave(), and unloading, once it has removed every
 * id, drops the module's own count and waits for the others to leave. A
 * callback that comes later finds the count at zero and returns at once.
 *
 * What no module can close are the core's own windows: between
 * cn_call_callback() finding the entry and the callback's first
 * instruction, and between the last complete() and the callback's return
 * (a task preempted there is overtaken by the unload), nothing holds the
 * module (see patches/connector/).
 */
static atomic_t cnlab_users = ATOMIC_INIT(1);
static DECLARE_COMPLETION(cnlab_idle);
static bool cnlab_stopping_flag;

bool cnlab_enter(void)
{
	return atomic_inc_not_zero(&cnlab_users);
}

void cnlab_leave(void)
{
	if (atomic_dec_and_test(&cnlab_users))
		complete(&cnlab_idle);
}

/*
 * Set when unloading starts: what would outlive the module (an id, the
 * timer, a burst) is refused from then on. Read under the lock that the
 * undoing takes too, so that what started before is undone.
 */
bool cnlab_stopping(void)
{
	return READ_ONCE(cnlab_stopping_flag);
}

void cnlab_hold(unsigned int where)
{
	unsigned long end = jiffies + 10 * HZ;

	if (!(READ_ONCE(hold_at) & where))
		return;
	atomic64_inc(&cnlab_counters.held);
	while (!cnlab_stopping() && time_before(jiffies, end))
		msleep(20);
}

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
	out->timer_ticks = atomic64_read(&c->timer_ticks);
	out->notifications = atomic64_read(&c->notifications);
	out->frees = atomic64_read(&c->frees);
	/*
	 * Frees before allocations: every free counted in this reading had
	 * its allocation counted before, so that allocs >= frees even while
	 * replies are in flight.
	 */
	smp_rmb();
	out->allocs = atomic64_read(&c->allocs);
	out->held = atomic64_read(&c->held);
	cnlab_late_stats(out);
	cnlab_extra_stats(out);
	for (i = 0; i < CNLAB_ERRNO_SLOTS; i++)
		out->send_errors[i] = atomic64_read(&c->send_errors[i]);
	for (i = 0; i <= CNLAB_GROUPS; i++)
		cnlab_dest_snapshot(&out->dests[i], &c->dests[i]);
}

/*
 * Once cnlab_stopping_flag is set and the echo and control ids are gone:
 * removes the further ids, waits for the callbacks still running, and stops
 * the timer, which none of them can start again.
 */
static void cnlab_drain(void)
{
	cnlab_ctl_exit_ids();
	cnlab_leave();
	wait_for_completion(&cnlab_idle);
	cnlab_ctl_exit();
}

static void cnlab_del_id(struct cb_id *id)
{
	cn_del_callback(id);
	cnlab_notify(id, false);
}

static int __init cnlab_init(void)
{
	int err;

	cnlab_echo_id = (struct cb_id){ .idx = echo_idx, .val = echo_val };
	cnlab_ctl_id = (struct cb_id){ .idx = ctl_idx, .val = ctl_val };
	cnlab_idx = echo_idx;

	if (echo_idx == ctl_idx && echo_val == ctl_val) {
		pr_err("echo and control ids are both %u:%u; give them different ids\n",
		       echo_idx, echo_val);
		return -EINVAL;
	}

	err = cnlab_echo_init();
	if (err)
		return err;
	cnlab_ctl_init();

	err = cn_add_callback(&cnlab_echo_id, "cnlab_echo", cnlab_echo_cb);
	if (err) {
		pr_err("cannot register echo id %u:%u: %d\n", echo_idx,
		       echo_val, err);
		goto err_echo_exit;
	}
	cnlab_notify(&cnlab_echo_id, true);

	err = cn_add_callback(&cnlab_ctl_id, "cnlab_ctl", cnlab_ctl_cb);
	if (err) {
		pr_err("cannot register control id %u:%u: %d\n", ctl_idx,
		       ctl_val, err);
		goto err_del_echo;
	}
	cnlab_notify(&cnlab_ctl_id, true);

	pr_info("echo on %u:%u, control on %u:%u%s\n", echo_idx, echo_val,
		ctl_idx, ctl_val, cnlab_ack_skew ? ", replies with a skewed ack" : "");
	return 0;

err_del_echo:
	WRITE_ONCE(cnlab_stopping_flag, true);
	cnlab_del_id(&cnlab_echo_id);
	cnlab_drain();
err_echo_exit:
	cnlab_echo_exit();
	return err;
}

/*
 * Nothing new starts once the flag is set; the ids go, so that the core
 * finds no callback of cnlab's; then the callbacks still running are waited
 * for, and what they started is stopped: the timer, late replies.
 */
static void __exit cnlab_exit(void)
{
	WRITE_ONCE(cnlab_stopping_flag, true);
	cnlab_del_id(&cnlab_ctl_id);
	cnlab_del_id(&cnlab_echo_id);
	cnlab_drain();
	cnlab_echo_exit();
	WARN(atomic64_read(&cnlab_counters.allocs) !=
	     atomic64_read(&cnlab_counters.frees),
	     "unloading with %lld allocations and %lld frees\n",
	     atomic64_read(&cnlab_counters.allocs),
	     atomic64_read(&cnlab_counters.frees));
}

module_init(cnlab_init);
module_exit(cnlab_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("cnlab: a connector (NETLINK_CONNECTOR) echo and test module");
