// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_bcast.c - kernel-initiated messages: bursts to a group or a port,
 * and a periodic timer broadcast as samples/connector/cn_test.c sends. Each
 * group, and unicast as a whole, numbers its messages with its own seq.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/timekeeping.h>
#include <linux/timer.h>

#include "cnlab.h"
#include "cnlab_compat.h"

static atomic_t cnlab_seqs[CNLAB_GROUPS + 1];

/* The next seq for group (0: unicast), counting up from 0. */
u32 cnlab_next_seq(u32 group)
{
	return (u32)atomic_inc_return(&cnlab_seqs[group]) - 1;
}

static void cnlab_fill_bcast(struct cn_msg *msg, u32 kind, u32 group)
{
	struct cnlab_bcast *b = (struct cnlab_bcast *)msg->data;

	msg->id.idx = cnlab_idx;
	msg->id.val = CNLAB_BCAST_VAL;
	msg->seq = cnlab_next_seq(group);
	msg->ack = 0;
	b->kind = kind;
	b->group = group;
	b->ktime = ktime_get_ns();
}

int cnlab_burst(const struct cnlab_burst *b, struct cnlab_burst_result *res)
{
	struct cn_msg *msg;
	u32 i;
	int ret;

	if (b->group > CNLAB_GROUPS || (!b->group && !b->portid) ||
	    b->count > 1000000 || b->size < sizeof(struct cnlab_bcast) ||
	    b->size > CNLAB_MAX_DATA)
		return -EINVAL;

	msg = cnlab_msg_alloc(b->size, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	memset(res, 0, sizeof(*res));
	for (i = 0; i < b->count; i++) {
		cnlab_fill_bcast(msg, CNLAB_BCAST_BURST, b->group);
		if (i == 0)
			res->seq = msg->seq;
		ret = cnlab_send(msg, b->group ? 0 : b->portid, b->group,
				 GFP_KERNEL);
		if (ret >= 0)
			res->ok++;
		else
			res->failed++;
		res->count++;
		if (i % 64 == 63)
			cond_resched();
	}
	cnlab_msg_free(msg);
	return 0;
}

/*
 * The timer: one at a time, started, moved and stopped under
 * cnlab_timer_lock. The callback re-arms itself while cnlab_timer_on.
 */
static DEFINE_MUTEX(cnlab_timer_lock);
static struct timer_list cnlab_timer;
static bool cnlab_timer_on;
static u32 cnlab_timer_group;
static unsigned long cnlab_timer_period;

static void cnlab_timer_fn(struct timer_list *unused)
{
	u32 group = READ_ONCE(cnlab_timer_group);
	struct cn_msg *msg;

	atomic64_inc(&cnlab_counters.timer_ticks);
	msg = cnlab_msg_alloc(sizeof(struct cnlab_bcast), GFP_ATOMIC);
	if (msg) {
		cnlab_fill_bcast(msg, CNLAB_BCAST_TIMER, group);
		cnlab_send(msg, 0, group, GFP_ATOMIC);
		cnlab_msg_free(msg);
	}
	if (READ_ONCE(cnlab_timer_on))
		mod_timer(&cnlab_timer, jiffies + READ_ONCE(cnlab_timer_period));
}

int cnlab_timer_start(const struct cnlab_timer *t)
{
	if (t->group < 1 || t->group > CNLAB_GROUPS ||
	    t->period < 1 || t->period > 3600000)
		return -EINVAL;
	mutex_lock(&cnlab_timer_lock);
	WRITE_ONCE(cnlab_timer_group, t->group);
	WRITE_ONCE(cnlab_timer_period, max(1UL, msecs_to_jiffies(t->period)));
	if (!cnlab_timer_on)
		timer_setup(&cnlab_timer, cnlab_timer_fn, 0);
	WRITE_ONCE(cnlab_timer_on, true);
	mod_timer(&cnlab_timer, jiffies + cnlab_timer_period);
	mutex_unlock(&cnlab_timer_lock);
	return 0;
}

void cnlab_timer_stop(void)
{
	mutex_lock(&cnlab_timer_lock);
	if (cnlab_timer_on) {
		WRITE_ONCE(cnlab_timer_on, false);
		cnlab_timer_delete_sync(&cnlab_timer);
	}
	mutex_unlock(&cnlab_timer_lock);
}
