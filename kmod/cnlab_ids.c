// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_ids.c - further ids registered and unregistered at run time through
 * the control channel, each answering as the echo id does, and the
 * notification broadcast on CNLAB_NOTIFY_GROUP whenever cnlab registers or
 * unregisters an id: the core's own {-1, -1} notification that
 * connector.rst describes is gone.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mutex.h>

#include "cnlab.h"

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
	cnlab_msg_free(msg);
}

static void cnlab_extra_cb(struct cn_msg *msg, struct netlink_skb_parms *nsp)
{
	atomic64_inc(&cnlab_counters.extra_received);
	if (!cnlab_msg_len_ok(msg)) {
		atomic64_inc(&cnlab_counters.invalid);
		return;
	}
	msg->ack = msg->seq + 1;
	cnlab_unicast(msg, nsp->portid);
}

static DEFINE_MUTEX(cnlab_ids_lock);
static struct cb_id cnlab_extra[CNLAB_MAX_EXTRA_IDS];	/* under cnlab_ids_lock */
static bool cnlab_extra_used[CNLAB_MAX_EXTRA_IDS];

static int cnlab_find_extra(const struct cnlab_id_arg *a)
{
	int i;

	for (i = 0; i < CNLAB_MAX_EXTRA_IDS; i++)
		if (cnlab_extra_used[i] && cnlab_extra[i].idx == a->idx &&
		    cnlab_extra[i].val == a->val)
			return i;
	return -1;
}

int cnlab_register_extra(const struct cnlab_id_arg *a)
{
	int i, err;

	mutex_lock(&cnlab_ids_lock);
	if (cnlab_find_extra(a) >= 0) {
		err = -EEXIST;
		goto out;
	}
	for (i = 0; i < CNLAB_MAX_EXTRA_IDS && cnlab_extra_used[i]; i++)
		;
	if (i == CNLAB_MAX_EXTRA_IDS) {
		err = -ENOSPC;
		goto out;
	}
	cnlab_extra[i] = (struct cb_id){ .idx = a->idx, .val = a->val };
	/* -EINVAL here: the id is taken, by cnlab or another module. */
	err = cn_add_callback(&cnlab_extra[i], "cnlab_extra", cnlab_extra_cb);
	if (err)
		goto out;
	cnlab_extra_used[i] = true;
	cnlab_notify(&cnlab_extra[i], true);
out:
	mutex_unlock(&cnlab_ids_lock);
	return err;
}

static void cnlab_unregister_slot(int i)
{
	cn_del_callback(&cnlab_extra[i]);
	cnlab_extra_used[i] = false;
	cnlab_notify(&cnlab_extra[i], false);
}

/*
 * Only ids registered here can be unregistered here: cn_del_callback() waits
 * for the id's callbacks to finish, so removing the control id from its own
 * callback would wait forever.
 */
int cnlab_unregister_extra(const struct cnlab_id_arg *a)
{
	int i, err = 0;

	mutex_lock(&cnlab_ids_lock);
	i = cnlab_find_extra(a);
	if (i < 0)
		err = -ENOENT;
	else
		cnlab_unregister_slot(i);
	mutex_unlock(&cnlab_ids_lock);
	return err;
}

void cnlab_unregister_all_extra(void)
{
	int i;

	mutex_lock(&cnlab_ids_lock);
	for (i = 0; i < CNLAB_MAX_EXTRA_IDS; i++)
		if (cnlab_extra_used[i])
			cnlab_unregister_slot(i);
	mutex_unlock(&cnlab_ids_lock);
}
