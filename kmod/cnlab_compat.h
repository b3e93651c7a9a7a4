/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cnlab_compat.h - the connector API differences between supported kernels,
 * and nothing else. One wrapper per difference, keyed on LINUX_VERSION_CODE.
 */
#ifndef CNLAB_COMPAT_H
#define CNLAB_COMPAT_H

#include <linux/version.h>
#include <linux/connector.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

/*
 * v6.6 ("connector/cn_proc: Add filtering to fix some bugs") added a
 * netlink_filter_fn and its data to cn_netlink_send_mult(); cnlab never
 * filters.
 */
static inline int cnlab_netlink_send_mult(struct cn_msg *msg, u16 len,
					  u32 portid, u32 group, gfp_t gfp)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	return cn_netlink_send_mult(msg, len, portid, group, gfp, NULL, NULL);
#else
	return cn_netlink_send_mult(msg, len, portid, group, gfp);
#endif
}

/* v6.2 renamed del_timer_sync(); later kernels dropped the old name. */
static inline int cnlab_timer_delete_sync(struct timer_list *timer)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	return timer_delete_sync(timer);
#else
	return del_timer_sync(timer);
#endif
}

/*
 * v6.2 added timer_shutdown_sync(): the timer cannot be armed again, even by
 * its own callback. Before it, del_timer_sync() waits for a callback that
 * re-arms itself too, and callers keep it from arming the timer again.
 */
static inline int cnlab_timer_shutdown_sync(struct timer_list *timer)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	return timer_shutdown_sync(timer);
#else
	return del_timer_sync(timer);
#endif
}

/*
 * v6.17 added WQ_PERCPU; 7.x warns (WARN_ONCE, a kernel WARNING the runner
 * fails a run on) when alloc_workqueue() gets neither WQ_PERCPU nor
 * WQ_UNBOUND. CNLAB_WQ_PERCPU is the flag that keeps the old per-CPU
 * default: pass it where 0 was passed.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
#define CNLAB_WQ_PERCPU WQ_PERCPU
#else
#define CNLAB_WQ_PERCPU 0
#endif

#endif /* CNLAB_COMPAT_H */
