// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_main.c - the module's life: its parameters, loading and unloading.
 * The gate its callbacks pass is in cnlab_gate.c; what every part uses to
 * count and send, in cnlab_msg.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

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

module_param_named(ack_skew, cnlab_ack_skew, int, 0444);
MODULE_PARM_DESC(ack_skew, "added to every echo reply's ack; nonzero breaks the echo on purpose, to prove that the suites notice (default 0)");

module_param_named(hold_at, cnlab_hold_at, uint, 0644);
MODULE_PARM_DESC(hold_at, "test hook widening races on purpose: wait, until unloading starts or 10 s pass, 1: in control operations that change state, 2: before queueing a late reply, 4: in a late reply's work (default 0)");

static struct cb_id cnlab_echo_id;
static struct cb_id cnlab_ctl_id;

/*
 * Once unloading has started and the echo and control ids are gone: removes
 * the further ids, waits for the callbacks still running, and stops the
 * timer, which none of them can start again.
 */
static void cnlab_drain(void)
{
	cnlab_ctl_exit_ids();
	cnlab_gate_close();
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
	cnlab_set_stopping();
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
	cnlab_set_stopping();
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
