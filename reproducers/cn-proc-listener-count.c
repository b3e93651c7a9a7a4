// SPDX-License-Identifier: GPL-2.0
/*
 * Since 6.6, cn_proc counts each socket's LISTEN once in its global
 * proc_event_num_listeners (the socket's struct proc_input remembers that
 * it listens) and makes no event while the count is below 1. When a
 * listening socket is released without IGNORE (closed, or its process
 * exited or was killed), cn_release() frees its proc_input but never
 * takes its LISTEN out of the count: for the rest of the boot cn_proc
 * builds and sends an event for every fork, exec, exit... on the system,
 * with nobody listening. No capability is needed since bfdfdc2f3b70
 * ("connector/cn_proc: Allow non-root users access"). 6.1 has no
 * per-socket state (a LISTEN is counted until an IGNORE, whoever sends
 * it) and lets only CAP_NET_ADMIN listen.
 *
 * Run as root (it drops to uid/gid 65534 with no capabilities) or as any
 * unprivileged user, on a boot where nothing else listens:
 * 1. a fresh socket joins group CN_IDX_PROC without sending any request
 *    (allowed without CAP_NET_ADMIN since 6.6) and forks a child: its fork
 *    event must not arrive, nobody listens;
 * 2. a process opens N sockets (default 4), binds each to CN_IDX_PROC and
 *    sends PROC_CN_MCAST_LISTEN (acked with err 0), closes half of them
 *    and is killed with SIGKILL holding the rest; no IGNORE;
 * 3. step 1 again: nobody listens, so the child's fork event arrives only
 *    if cn_proc still counts a listener.
 * Exit 1 when it arrives (the count leaked), 0 when it does not or when
 * uid 65534 may not join group 1 (before 6.6), 2 when it cannot tell:
 * step 1 already got events (a listener, or a count raised earlier in
 * this boot, by an earlier run for one).
 *
 * gcc -static -O2 -o cn-proc-listener-count cn-proc-listener-count.c
 *
 * In cnlab's guest, from the top of the tree, with the binary in build/
 * (exit 1 on 7.2; with KERNEL_PATCHES= kernels/patches/cn_proc's
 * 0001-0004, comma-separated, it exits 0):
 * make e2e KERNEL=7.2 VMFLAGS="-exec /bin/cn-proc-listener-count \
 *	-add build/cn-proc-listener-count:/bin/cn-proc-listener-count"
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#define WAIT_MS 1000
#define NONCE 0x5eed

/*
 * proc_socket returns a connector socket bound to group CN_IDX_PROC, or
 * -1 with errno EPERM if this user may not join it.
 */
static int proc_socket(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = 1 << (CN_IDX_PROC - 1),
	};
	int fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR);

	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		if (err != EPERM) {
			perror("bind to CN_IDX_PROC");
			exit(2);
		}
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static void send_op(int fd, unsigned int op, unsigned int ack)
{
	char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(op))] = { 0 };
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct cn_msg *msg = NLMSG_DATA(nlh);
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*msg) + sizeof(op));
	nlh->nlmsg_type = NLMSG_DONE;
	msg->id.idx = CN_IDX_PROC;
	msg->id.val = CN_VAL_PROC;
	msg->ack = ack;
	msg->len = sizeof(op);
	memcpy(msg->data, &op, sizeof(op));
	if (sendto(fd, buf, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0) {
		perror("send LISTEN");
		exit(2);
	}
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * next_event waits until WAIT_MS after t0 for a process event on fd and
 * returns it, or NULL when the time is up.
 */
static struct proc_event *next_event(int fd, const struct timespec *t0,
				     char *buf, size_t size, __u32 *ack)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long left;

	while ((left = WAIT_MS - ms_since(t0)) > 0) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		struct cn_msg *msg;
		ssize_t n;

		if (poll(&p, 1, left) <= 0)
			continue;
		n = recv(fd, buf, size, 0);
		if (n < 0 && errno == ENOBUFS)
			continue; /* events overran the buffer: read on */
		if (n < 0) {
			perror("recv");
			exit(2);
		}
		if (!NLMSG_OK(nlh, n))
			continue;
		msg = NLMSG_DATA(nlh);
		if (msg->id.idx != CN_IDX_PROC || msg->id.val != CN_VAL_PROC ||
		    msg->len < sizeof(struct proc_event))
			continue;
		*ack = msg->ack;
		return (struct proc_event *)msg->data;
	}
	return NULL;
}

/*
 * fork_seen joins group 1 with a fresh socket that sends no request,
 * forks a child that exits at once, and says whether the child's fork
 * event arrived; *events counts every event that did. -1: EPERM.
 */
static int fork_seen(int *events)
{
	__u64 buf[1024];
	struct proc_event *ev;
	struct timespec t0;
	int fd = proc_socket(), seen = 0;
	__u32 ack;
	pid_t pid;

	if (fd < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	*events = 0;
	while ((ev = next_event(fd, &t0, (char *)buf, sizeof(buf), &ack))) {
		++*events;
		if (ev->what == PROC_EVENT_FORK &&
		    ev->event_data.fork.child_tgid == pid)
			seen = 1;
	}
	close(fd);
	return seen;
}

/*
 * listen_and_die opens n sockets in group 1, sends LISTEN on each and
 * waits for its ack, closes the first half and is killed with the rest.
 */
static void listen_and_die(int n)
{
	__u64 buf[1024];
	struct proc_event *ev;
	struct timespec t0;
	int i, status, *fds;
	__u32 ack;
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid > 0) {
		waitpid(pid, &status, 0);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
			printf("the listening process failed (status %#x)\n",
			       status);
			exit(2);
		}
		return;
	}
	fds = calloc(n, sizeof(*fds));
	if (!fds) {
		perror("calloc");
		_exit(2);
	}
	for (i = 0; i < n; i++) {
		fds[i] = proc_socket();
		if (fds[i] < 0) {
			perror("bind to CN_IDX_PROC");
			_exit(2);
		}
		send_op(fds[i], PROC_CN_MCAST_LISTEN, NONCE + i);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			ev = next_event(fds[i], &t0, (char *)buf, sizeof(buf),
					&ack);
			if (!ev) {
				printf("socket %d: no ack to LISTEN\n", i);
				_exit(2);
			}
			if (ev->what == PROC_EVENT_NONE &&
			    ack == (__u32)(NONCE + i + 1))
				break;
		}
		if (ev->event_data.ack.err) {
			printf("socket %d: LISTEN refused, err %u\n", i,
			       ev->event_data.ack.err);
			_exit(2);
		}
	}
	for (i = 0; i < n / 2; i++)
		close(fds[i]);
	printf("%d sockets of uid %d sent LISTEN: %d closed, %d left to SIGKILL, no IGNORE\n",
	       n, (int)getuid(), n / 2, n - n / 2);
	fflush(stdout);
	kill(getpid(), SIGKILL);
	_exit(2);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4, events, seen;

	if (n < 1) {
		fprintf(stderr, "usage: %s [sockets]\n", argv[0]);
		return 2;
	}
	if (getuid() == 0 &&
	    (setgroups(0, NULL) || setgid(65534) || setuid(65534))) {
		perror("drop to uid 65534");
		return 2;
	}
	seen = fork_seen(&events);
	if (seen < 0) {
		printf("uid %d may not join group 1 (before 6.6): nothing to show\n",
		       (int)getuid());
		return 0;
	}
	printf("before: a fork, then %d events in %d ms to a silent socket\n",
	       events, WAIT_MS);
	if (events) {
		printf("cannot tell: cn_proc sends already (a listener, or a leak earlier)\n");
		return 2;
	}
	listen_and_die(n);
	seen = fork_seen(&events);
	printf("after: a fork, then %d events in %d ms to a silent socket%s\n",
	       events, WAIT_MS, seen ? ", the fork's among them" : "");
	if (seen) {
		printf("BUG: nobody listens, cn_proc still sends: %d LISTEN still counted\n",
		       n);
		return 1;
	}
	printf("ok: the released listeners are no longer counted\n");
	return 0;
}
