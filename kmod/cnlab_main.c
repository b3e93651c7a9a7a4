// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_main.c - module parameters, and registration of cnlab's connector
 * callbacks on load and their removal on unload.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "cnlab.h"

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

static bool cnlab_stopping;

void cnlab_hold(unsigned int where)
{
	unsigned long end = jiffies + 10 * HZ;

	if (!(READ_ONCE(hold_at) & where))
		return;
	atomic64_inc(&cnlab_counters.held);
	while (!READ_ONCE(cnlab_stopping) && time_before(jiffies, end))
		msleep(20);
}

/* The idx of every id cnlab sends from. */
u32 cnlab_idx;

static struct cb_id cnlab_echo_id;
static struct cb_id cnlab_ctl_id;

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
		goto err_echo_init;

	err = cn_add_callback(&cnlab_echo_id, "cnlab_echo", cnlab_echo_cb);
	if (err) {
		pr_err("cannot register echo id %u:%u: %d\n", echo_idx,
		       echo_val, err);
		goto err_echo;
	}
	cnlab_notify(&cnlab_echo_id, true);

	err = cn_add_callback(&cnlab_ctl_id, "cnlab_ctl", cnlab_ctl_cb);
	if (err) {
		pr_err("cannot register control id %u:%u: %d\n", ctl_idx,
		       ctl_val, err);
		goto err_ctl;
	}
	cnlab_notify(&cnlab_ctl_id, true);

	pr_info("echo on %u:%u, control on %u:%u%s\n", echo_idx, echo_val,
		ctl_idx, ctl_val, cnlab_ack_skew ? ", replies with a skewed ack" : "");
	return 0;

err_ctl:
	cn_del_callback(&cnlab_echo_id);
	cnlab_notify(&cnlab_echo_id, false);
err_echo:
	cnlab_echo_exit();
err_echo_init:
	return err;
}

/*
 * The callbacks go first, so that no request starts anything new; then what
 * they may have started: the timer, further ids, late replies.
 */
static void __exit cnlab_exit(void)
{
	WRITE_ONCE(cnlab_stopping, true);
	cn_del_callback(&cnlab_ctl_id);
	cnlab_notify(&cnlab_ctl_id, false);
	cn_del_callback(&cnlab_echo_id);
	cnlab_notify(&cnlab_echo_id, false);
	cnlab_timer_stop();
	cnlab_unregister_all_extra();
	cnlab_echo_exit();
}

module_init(cnlab_init);
module_exit(cnlab_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("cnlab: a connector (NETLINK_CONNECTOR) echo and test module");
