// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_ctl.c - the control id: requests from tests and cnctl, each
 * answered with a struct cnlab_ctl_reply and the operation's result; and
 * what they start: bursts, the timer broadcast (as
 * samples/connector/cn_test.c sends), and further ids, whose slots,
 * callback and counts are all here.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/jiffies.h>
#include <linux/mutex.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/timer.h>
#include <linux/user_namespace.h>

#include "cnlab.h"
#include "cnlab_compat.h"

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

/*
 * Stops early, with what it sent so far in res, when its sender gets a
 * fatal signal (-EINTR) or the module unloads (-ESHUTDOWN): a million
 * messages take long, and all of it inside the sender's send().
 */
static int cnlab_burst(const struct cnlab_burst *b,
		       struct cnlab_burst_result *res)
{
	struct cn_msg *msg;
	int err = 0;
	u32 i;

	if (b->group > CNLAB_GROUPS || (!b->group && !b->portid) ||
	    b->count > CNLAB_MAX_COUNT || b->size < sizeof(struct cnlab_bcast) ||
	    b->size > CNLAB_MAX_DATA)
		return -EINVAL;

	msg = cnlab_msg_alloc(b->size, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	memset(res, 0, sizeof(*res));
	for (i = 0; i < b->count; i++) {
		if (cnlab_stopping()) {
			err = -ESHUTDOWN;
			break;
		}
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		cnlab_fill_bcast(msg, CNLAB_BCAST_BURST, b->group);
		if (i == 0)
			res->seq = msg->seq;
		if (cnlab_send(msg, b->group ? 0 : b->portid, b->group,
			       GFP_KERNEL) >= 0)
			res->ok++;
		else
			res->failed++;
		res->count++;
		if (i % 64 == 63)
			cond_resched();
	}
	cnlab_free(msg);
	return err;
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
		cnlab_free(msg);
	}
	if (READ_ONCE(cnlab_timer_on))
		mod_timer(&cnlab_timer, jiffies + READ_ONCE(cnlab_timer_period));
}

static int cnlab_timer_start(const struct cnlab_timer *t)
{
	int err = 0;

	if (t->group < 1 || t->group > CNLAB_GROUPS ||
	    t->period < 1 || t->period > CNLAB_MAX_PERIOD)
		return -EINVAL;
	mutex_lock(&cnlab_timer_lock);
	if (cnlab_stopping()) {
		err = -ESHUTDOWN;
		goto out;
	}
	/*
	 * A tick running on another CPU re-arms the timer with the period it
	 * read: read before the new one is written and re-armed after the
	 * mod_timer() below, the old period would win. So a timer that is on
	 * is stopped first, its running tick waited for, as cnlab_timer_stop()
	 * does; only then does it get its new group and period.
	 */
	if (cnlab_timer_on) {
		WRITE_ONCE(cnlab_timer_on, false);
		cnlab_timer_delete_sync(&cnlab_timer);
	}
	WRITE_ONCE(cnlab_timer_group, t->group);
	WRITE_ONCE(cnlab_timer_period, max(1UL, msecs_to_jiffies(t->period)));
	WRITE_ONCE(cnlab_timer_on, true);
	mod_timer(&cnlab_timer, jiffies + cnlab_timer_period);
out:
	mutex_unlock(&cnlab_timer_lock);
	return err;
}

static void cnlab_timer_stop(void)
{
	mutex_lock(&cnlab_timer_lock);
	WRITE_ONCE(cnlab_timer_on, false);
	cnlab_timer_delete_sync(&cnlab_timer);
	mutex_unlock(&cnlab_timer_lock);
}

/*
 * Further ids, registered and unregistered through the control id, each in
 * a slot of cnlab_extra. Register and unregister hold cnlab_ids_lock across
 * the core's calls and the notification; a slot's id and used change under
 * cnlab_extra_lock too, so that the further ids' callback and the stats,
 * which run beside them, read it under cnlab_extra_lock alone. The counts
 * change under cnlab_extra_lock.
 */
struct cnlab_extra_slot {
	struct cb_id id;
	bool used;
	u64 received;
	u64 invalid;
};

static DEFINE_MUTEX(cnlab_ids_lock);
static DEFINE_SPINLOCK(cnlab_extra_lock);
static struct cnlab_extra_slot cnlab_extra[CNLAB_MAX_EXTRA_IDS];

/* The slot that holds id, or -1; under either lock. */
static int cnlab_find_extra(u32 idx, u32 val)
{
	int i;

	for (i = 0; i < CNLAB_MAX_EXTRA_IDS; i++)
		if (cnlab_extra[i].used && cnlab_extra[i].id.idx == idx &&
		    cnlab_extra[i].id.val == val)
			return i;
	return -1;
}

/*
 * The further ids' callback counts a message to *id here: in the totals,
 * and under the slot that holds that id, whose id *id becomes (the same
 * id, as the core calls a callback for its exact id only: the reply is
 * tied to the slot it was counted under). A message whose id no slot
 * holds (the id went while its callback ran) is counted in the totals
 * only and keeps its id. Totals and slots change under one lock, so that
 * a snapshot never has more in the slots than in the totals.
 */
static void cnlab_extra_count(struct cb_id *id, bool valid)
{
	int i;

	spin_lock(&cnlab_extra_lock);
	atomic64_inc(&cnlab_counters.extra_received);
	if (!valid)
		atomic64_inc(&cnlab_counters.extra_invalid);
	i = cnlab_find_extra(id->idx, id->val);
	if (i >= 0) {
		cnlab_extra[i].received++;
		if (!valid)
			cnlab_extra[i].invalid++;
		*id = cnlab_extra[i].id;
	}
	spin_unlock(&cnlab_extra_lock);
}

/*
 * The further ids' callback: the echo (cnlab_echo.c's reply helper),
 * without modes, from the id of the slot it is counted under, which is the
 * request's; replies are not counted.
 */
static void cnlab_extra_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp)
{
	struct cb_id id = msg->id;
	struct cn_msg *reply;
	bool valid;

	if (!cnlab_enter())
		return;
	valid = cnlab_msg_len_ok(msg);
	cnlab_extra_count(&id, valid);
	if (!valid)
		goto out;
	reply = cnlab_reply_alloc(msg, msg->seq + 1, GFP_KERNEL);
	if (!reply)
		goto out;
	reply->id = id;
	cnlab_unicast(reply, nsp->portid);
	cnlab_free(reply);
out:
	cnlab_leave();
}

static int cnlab_register_extra(const struct cnlab_id_arg *a)
{
	struct cb_id id = { .idx = a->idx, .val = a->val };
	struct cnlab_extra_slot *slot;
	int i, err;

	mutex_lock(&cnlab_ids_lock);
	if (cnlab_stopping()) {
		err = -ESHUTDOWN;
		goto out;
	}
	if (cnlab_find_extra(id.idx, id.val) >= 0) {
		err = -EEXIST;
		goto out;
	}
	for (i = 0; i < CNLAB_MAX_EXTRA_IDS && cnlab_extra[i].used; i++)
		;
	if (i == CNLAB_MAX_EXTRA_IDS) {
		err = -ENOSPC;
		goto out;
	}
	/*
	 * The core copies the id. -EINVAL here: the id is taken, by cnlab or
	 * another module.
	 */
	err = cn_add_callback(&id, "cnlab_extra", cnlab_extra_cb);
	if (err)
		goto out;
	/*
	 * Counted from here on: a message that came before finds no slot,
	 * and is counted in extra_received only.
	 */
	slot = &cnlab_extra[i];
	spin_lock(&cnlab_extra_lock);
	slot->id = id;
	slot->used = true;
	slot->received = 0;
	slot->invalid = 0;
	spin_unlock(&cnlab_extra_lock);
	cnlab_notify(&id, true);
out:
	mutex_unlock(&cnlab_ids_lock);
	return err;
}

/*
 * cn_del_callback() returns at once, even while the id's callback runs:
 * the gate (cnlab_gate.c) is what waits for it. The slot keeps its id and
 * counts for the stats, unused.
 */
static void cnlab_unregister_slot(int i)
{
	struct cnlab_extra_slot *slot = &cnlab_extra[i];

	cn_del_callback(&slot->id);
	spin_lock(&cnlab_extra_lock);
	slot->used = false;
	spin_unlock(&cnlab_extra_lock);
	cnlab_notify(&slot->id, false);
}

static int cnlab_unregister_extra(const struct cnlab_id_arg *a)
{
	int i, err = 0;

	mutex_lock(&cnlab_ids_lock);
	i = cnlab_find_extra(a->idx, a->val);
	if (i < 0)
		err = -ENOENT;
	else
		cnlab_unregister_slot(i);
	mutex_unlock(&cnlab_ids_lock);
	return err;
}

/* The further ids' slots, for CNLAB_OP_GET_STATS. */
static void cnlab_extra_stats(struct cnlab_stats *out)
{
	struct cnlab_extra_stats *e;
	int i;

	spin_lock(&cnlab_extra_lock);
	out->extra_received = atomic64_read(&cnlab_counters.extra_received);
	out->extra_invalid = atomic64_read(&cnlab_counters.extra_invalid);
	for (i = 0; i < CNLAB_MAX_EXTRA_IDS; i++) {
		e = &out->extra[i];
		e->idx = cnlab_extra[i].id.idx;
		e->val = cnlab_extra[i].id.val;
		e->used = cnlab_extra[i].used;
		e->reserved = 0;
		e->received = cnlab_extra[i].received;
		e->invalid = cnlab_extra[i].invalid;
	}
	spin_unlock(&cnlab_extra_lock);
}

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

static void cnlab_stats_snapshot(struct cnlab_stats *out)
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
 * The reading is taken before the reply that carries it is allocated, so
 * that an idle module reads allocs == frees, each counted when it happens.
 */
static DEFINE_MUTEX(cnlab_stats_lock);
static struct cnlab_stats cnlab_stats_buf;	/* under cnlab_stats_lock */

static void cnlab_ctl_get_stats(const struct cn_msg *req, u32 portid)
{
	mutex_lock(&cnlab_stats_lock);
	cnlab_stats_snapshot(&cnlab_stats_buf);
	cnlab_ctl_answer(req, CNLAB_OP_GET_STATS, 0, &cnlab_stats_buf,
			 sizeof(cnlab_stats_buf), portid);
	mutex_unlock(&cnlab_stats_lock);
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

/* Runs an operation that changes state, and answers it. */
static void cnlab_ctl_change(const struct cn_msg *msg, u32 op,
			     const void *args, u32 portid)
{
	struct cnlab_burst_result burst;
	int status;

	cnlab_hold(CNLAB_HOLD_CTL);
	switch (op) {
	case CNLAB_OP_BURST:
		status = cnlab_burst(args, &burst);
		if (!status) {
			cnlab_ctl_answer(msg, op, 0, &burst, sizeof(burst),
					 portid);
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
	cnlab_ctl_answer(msg, op, status, NULL, 0, portid);
}

static void cnlab_ctl(const struct cn_msg *msg, struct netlink_skb_parms *nsp)
{
	const struct cnlab_ctl_req *req = (const void *)msg->data;
	u32 portid = nsp->portid;
	int status;
	u32 op;

	atomic64_inc(&cnlab_counters.ctl_received);

	if (!cnlab_msg_len_ok(msg) || msg->len < sizeof(*req)) {
		atomic64_inc(&cnlab_counters.ctl_invalid);
		return;
	}
	op = req->op;
	if (op == 0 || op >= ARRAY_SIZE(cnlab_ctl_args))
		status = -EOPNOTSUPP;
	else if (req->reserved ||
		 msg->len - sizeof(*req) != cnlab_ctl_args[op])
		status = -EINVAL;
	else
		status = 0;
	if (status) {
		atomic64_inc(&cnlab_counters.ctl_invalid);
		cnlab_ctl_answer(msg, op, status, NULL, 0, portid);
		return;
	}
	if (op == CNLAB_OP_GET_STATS) {
		cnlab_ctl_get_stats(msg, portid);
		return;
	}

	/* Everything else changes state: as cn_proc, only for the admin. */
	if (!__netlink_ns_capable(nsp, &init_user_ns, CAP_NET_ADMIN)) {
		atomic64_inc(&cnlab_counters.ctl_refused);
		cnlab_ctl_answer(msg, op, -EPERM, NULL, 0, portid);
		return;
	}
	cnlab_ctl_change(msg, op, msg->data + sizeof(*req), portid);
}

void cnlab_ctl_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp)
{
	if (!cnlab_enter())
		return;
	cnlab_ctl(msg, nsp);
	cnlab_leave();
}

void cnlab_ctl_init(void)
{
	timer_setup(&cnlab_timer, cnlab_timer_fn, 0);
}

/* Unloading: the further ids go; cnlab_stopping() keeps new ones out. */
void cnlab_ctl_exit_ids(void)
{
	int i;

	mutex_lock(&cnlab_ids_lock);
	for (i = 0; i < CNLAB_MAX_EXTRA_IDS; i++)
		if (cnlab_extra[i].used)
			cnlab_unregister_slot(i);
	mutex_unlock(&cnlab_ids_lock);
}

/* Unloading, once no callback runs: the timer stops for good. */
void cnlab_ctl_exit(void)
{
	mutex_lock(&cnlab_timer_lock);
	WRITE_ONCE(cnlab_timer_on, false);
	cnlab_timer_shutdown_sync(&cnlab_timer);
	mutex_unlock(&cnlab_timer_lock);
}
