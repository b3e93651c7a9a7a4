// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_fault.c - provokes, on load, the kernel trouble the runner must
 * report: the faults tests of cnlab-vm load it in a guest. Debian's kernels
 * have no LKDTM, so the lab brings its own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/string.h>

static char *what = "warn";
module_param(what, charp, 0444);
MODULE_PARM_DESC(what,
		 "warn; oops (in the loading task); hung (a task blocked 60s); softlockup or rcu_stall (a CPU held 30s)");

static int cnlab_fault_thread(void *data)
{
	unsigned long end;

	if (!strcmp(what, "hung")) {
		schedule_timeout_uninterruptible(60 * HZ);
		return 0;
	}
	end = jiffies + 30 * HZ;
	if (!strcmp(what, "rcu_stall"))
		rcu_read_lock();
	preempt_disable();
	while (time_before(jiffies, end))
		cpu_relax();
	preempt_enable();
	if (!strcmp(what, "rcu_stall"))
		rcu_read_unlock();
	return 0;
}

static int __init cnlab_fault_init(void)
{
	struct task_struct *t;
	int *null = NULL;

	if (!strcmp(what, "warn")) {
		WARN(1, "cnlab_fault: a warning, on purpose\n");
		return 0;
	}
	if (!strcmp(what, "oops")) {
		/* The task loading the module oopses, as a step would. */
		OPTIMIZER_HIDE_VAR(null);
		return *null;
	}
	if (strcmp(what, "hung") && strcmp(what, "softlockup") &&
	    strcmp(what, "rcu_stall")) {
		pr_err("what=%s: want warn, oops, hung, softlockup or rcu_stall\n",
		       what);
		return -EINVAL;
	}
	t = kthread_run(cnlab_fault_thread, NULL, "cnlab_fault");
	return PTR_ERR_OR_ZERO(t);
}

/*
 * No module_exit: the module cannot be unloaded, since its thread may still
 * run; a guest that loads it is powered off, not cleaned up.
 */
module_init(cnlab_fault_init);
MODULE_DESCRIPTION("provokes kernel trouble on purpose, for cnlab's runner tests");
MODULE_LICENSE("GPL");
