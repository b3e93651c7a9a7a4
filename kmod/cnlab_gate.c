// SPDX-License-Identifier: GPL-2.0
/*
 * cnlab_gate.c - the gate every callback passes, which unloading closes and
 * waits on; the flag that refuses what would outlive the module; and the
 * hold_at test hook, which waits inside the gate.
 */
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/jiffies.h>

#include "cnlab.h"

/* The hold_at module parameter (cnlab_main.c). */
unsigned int cnlab_hold_at;

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
 * module (see kernels/patches/connector/).
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
 * Unloading, once every id is gone: drops the module's own count and waits
 * for the callbacks still inside.
 */
void cnlab_gate_close(void)
{
	cnlab_leave();
	wait_for_completion(&cnlab_idle);
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

void cnlab_set_stopping(void)
{
	WRITE_ONCE(cnlab_stopping_flag, true);
}

void cnlab_hold(unsigned int where)
{
	unsigned long end = jiffies + 10 * HZ;

	if (!(READ_ONCE(cnlab_hold_at) & where))
		return;
	atomic64_inc(&cnlab_counters.held);
	while (!cnlab_stopping() && time_before(jiffies, end))
		msleep(20);
}
