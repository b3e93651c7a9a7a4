// SPDX-License-Identifier: GPL-2.0
/*
 * A small connector module with one planted bug per class that
 * cnlab's generic suite claims to find, each chosen with the bug parameter,
 * so that one source serves every example target (a .target file per bug,
 * beside it).
 *
 * What it does: a message to its id (17:0x1) carries a record, a
 * little-endian u16 count then data, and gets one reply to its sender, with
 * its seq and ack = seq + 1, carrying the record's first count bytes of
 * data (fewer when the message holds fewer), allocated and sent with
 * GFP_ATOMIC as samples/connector/cn_test.c does: a reply that may block
 * would wait inside the sender's send(2) for room in its receive buffer,
 * for ever if the sender reads nothing. It keeps counters under a lock, and
 * a timer marks it idle 200 ms after the last message.
 *
 * bug=none plants nothing. The bugs:
 *   length: the record's count is believed: no check against msg->len, so
 *           a short message makes it read msg->data past its end;
 *   leak:   a copy of every message is kept for a log nobody reads, and
 *           never freed;
 *   sleep:  it waits (msleep) with its spinlock held, a raw one, so that
 *           this is a bug on PREEMPT_RT too (where a spinlock_t sleeps);
 *   port:   it replies to the port of the first sender it saw, not the
 *           message's;
 *   unload: it leaves the idle timer armed when it is unloaded, so the
 *           timer fires into freed module text.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/connector.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>

#define CN_BUGGY_IDX	(CN_NETLINK_USERS + 6)
#define CN_BUGGY_VAL	0x1
#define CN_BUGGY_IDLE_MS	200

enum cn_buggy_bug {
	CN_BUGGY_NONE,
	CN_BUGGY_LENGTH,
	CN_BUGGY_LEAK,
	CN_BUGGY_SLEEP,
	CN_BUGGY_PORT,
	CN_BUGGY_UNLOAD,
};

static const char * const cn_buggy_bugs[] = {
	[CN_BUGGY_NONE] = "none",
	[CN_BUGGY_LENGTH] = "length",
	[CN_BUGGY_LEAK] = "leak",
	[CN_BUGGY_SLEEP] = "sleep",
	[CN_BUGGY_PORT] = "port",
	[CN_BUGGY_UNLOAD] = "unload",
};

static char *bug = "none";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "the bug planted: none, length, leak, sleep, port or unload (default none)");

static enum cn_buggy_bug cn_buggy_bug;
static struct cb_id cn_buggy_id = { .idx = CN_BUGGY_IDX, .val = CN_BUGGY_VAL };

/*
 * What the lock protects: the counters, the first port, the idle flag. A
 * raw spinlock, held for a few instructions: what it holds is atomic on
 * every kernel, PREEMPT_RT's included, so sleeping there (bug=sleep) is a
 * bug everywhere.
 */
static DEFINE_RAW_SPINLOCK(cn_buggy_lock);
static u64 cn_buggy_msgs;
static u64 cn_buggy_bytes;
static u32 cn_buggy_first_port;
static bool cn_buggy_idle = true;
static bool cn_buggy_stopping;

static struct timer_list cn_buggy_idle_timer;

/* bug=leak: every message, kept for a log that is never read nor freed. */
struct cn_buggy_log {
	struct list_head node;
	u32 seq;
	u16 len;
	u8 data[];
};

static void cn_buggy_idle_fn(struct timer_list *unused)
{
	raw_spin_lock_bh(&cn_buggy_lock);
	cn_buggy_idle = true;
	raw_spin_unlock_bh(&cn_buggy_lock);
}

/*
 * The record's data the reply carries: at most the count it says, and
 * never more than the message holds (but with bug=length).
 */
static u16 cn_buggy_count(const struct cn_msg *msg)
{
	__le16 count;

	if (cn_buggy_bug != CN_BUGGY_LENGTH && msg->len < sizeof(count))
		return 0;
	memcpy(&count, msg->data, sizeof(count));
	if (cn_buggy_bug == CN_BUGGY_LENGTH)
		return le16_to_cpu(count);
	return min_t(u16, le16_to_cpu(count), msg->len - sizeof(count));
}

/* Counts the message; returns the port its reply goes to. */
static u32 cn_buggy_account(const struct cn_msg *msg, u32 portid)
{
	u32 to = portid;

	raw_spin_lock_bh(&cn_buggy_lock);
	cn_buggy_msgs++;
	cn_buggy_bytes += msg->len;
	cn_buggy_idle = false;
	if (!cn_buggy_first_port)
		cn_buggy_first_port = portid;
	if (cn_buggy_bug == CN_BUGGY_PORT)
		to = cn_buggy_first_port;
	if (cn_buggy_bug == CN_BUGGY_SLEEP)
		msleep(20);	/* "wait for the device", lock held */
	if (!cn_buggy_stopping)
		mod_timer(&cn_buggy_idle_timer,
			  jiffies + msecs_to_jiffies(CN_BUGGY_IDLE_MS));
	raw_spin_unlock_bh(&cn_buggy_lock);
	return to;
}

static void cn_buggy_log(const struct cn_msg *msg)
{
	struct cn_buggy_log *e;

	e = kmalloc(struct_size(e, data, msg->len), GFP_KERNEL);
	if (!e)
		return;
	e->seq = msg->seq;
	e->len = msg->len;
	memcpy(e->data, msg->data, msg->len);
	/* Linked nowhere: nothing refers to it once this returns. */
	INIT_LIST_HEAD(&e->node);
}

static void cn_buggy_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp)
{
	struct cn_msg *reply;
	u16 count;
	u32 to;
	int err;

	if (cn_buggy_bug == CN_BUGGY_LEAK)
		cn_buggy_log(msg);
	to = cn_buggy_account(msg, nsp->portid);
	count = cn_buggy_count(msg);

	reply = kzalloc(sizeof(*reply) + count, GFP_ATOMIC);
	if (!reply)
		return;
	reply->id = msg->id;
	reply->seq = msg->seq;
	reply->ack = msg->seq + 1;
	reply->len = count;
	memcpy(reply->data, msg->data + sizeof(__le16), count);
	err = cn_netlink_send(reply, to, 0, GFP_ATOMIC);
	if (err < 0)
		pr_debug("reply to seq %u, port %u: %d\n", msg->seq, to, err);
	kfree(reply);
}

static int __init cn_buggy_init(void)
{
	int err;
	int i;

	i = match_string(cn_buggy_bugs, ARRAY_SIZE(cn_buggy_bugs), bug);
	if (i < 0) {
		pr_err("bug=%s: want none, length, leak, sleep, port or unload\n",
		       bug);
		return -EINVAL;
	}
	cn_buggy_bug = i;

	timer_setup(&cn_buggy_idle_timer, cn_buggy_idle_fn, 0);
	err = cn_add_callback(&cn_buggy_id, KBUILD_MODNAME, cn_buggy_cb);
	if (err) {
		pr_err("cannot register id %u:%u: %d\n", cn_buggy_id.idx,
		       cn_buggy_id.val, err);
		goto err_timer;
	}
	pr_info("on %u:%u, bug=%s\n", cn_buggy_id.idx, cn_buggy_id.val,
		cn_buggy_bugs[cn_buggy_bug]);
	return 0;

err_timer:
	timer_shutdown_sync(&cn_buggy_idle_timer);
	return err;
}

static void __exit cn_buggy_exit(void)
{
	raw_spin_lock_bh(&cn_buggy_lock);
	cn_buggy_stopping = true;
	raw_spin_unlock_bh(&cn_buggy_lock);
	cn_del_callback(&cn_buggy_id);
	/*
	 * This unload is not safe, and no module can make it so alone: the
	 * connector core's cn_del_callback() does not wait for callbacks it
	 * has already found (cnlab's docs/races.md, "The windows that
	 * remain"), so a callback may still run, or not yet have started,
	 * when this returns and the module is freed. One that takes the lock
	 * after the stopping flag is set leaves the timer alone, and one that
	 * runs later finds it shut down: neither arms it again.
	 */
	if (cn_buggy_bug != CN_BUGGY_UNLOAD)
		timer_shutdown_sync(&cn_buggy_idle_timer);
	pr_info("%llu messages, %llu bytes\n", cn_buggy_msgs, cn_buggy_bytes);
}

module_init(cn_buggy_init);
module_exit(cn_buggy_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A connector module with planted bugs, for cnlab's generic suite");
