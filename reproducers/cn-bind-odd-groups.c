// SPDX-License-Identifier: GPL-2.0
/*
 * Since 6.6, cn_bind() (drivers/connector/connector.c) lets a socket
 * without CAP_NET_ADMIN join every odd-numbered connector group, not only
 * CN_IDX_PROC (1): it tests bit 0 of the group *number* that
 * netlink_bind() and NETLINK_ADD_MEMBERSHIP pass it, as if it were a
 * bitmap. Odd groups with in-tree senders: 3 (w1), 7 (dm-log-userspace),
 * 9 (Hyper-V KVP); 5 (CN_IDX_BB) and 11..25 have none in tree.
 *
 * Run as root (it drops to uid/gid 65534 with no capabilities) or as any
 * unprivileged user. It tries each group of the connector socket, by
 * bind() and by setsockopt(NETLINK_ADD_MEMBERSHIP), and prints which it
 * was let into. Exit 1 when a group other than CN_IDX_PROC is open (the
 * bug), 0 when none is (before 6.6: even group 1 is refused) or only 1.
 *
 * gcc -static -O2 -o cn-bind-odd-groups cn-bind-odd-groups.c
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* The connector kernel socket's groups: CN_NETLINK_USERS + 0xf. */
#define CN_GROUPS (CN_NETLINK_USERS + 0xf)

/* try_bind returns 0 if a socket may bind to group g, else an errno. */
static int try_bind(int g)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = 1u << (g - 1),
	};
	int fd, err = 0;

	fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR);
	if (fd < 0)
		return errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err = errno;
	close(fd);
	return err;
}

/* try_add returns 0 if NETLINK_ADD_MEMBERSHIP to group g works. */
static int try_add(int g)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd, err = 0;

	fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR);
	if (fd < 0)
		return errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g,
		       sizeof(g)) < 0)
		err = errno;
	close(fd);
	return err;
}

int main(void)
{
	int g, open_other = 0, open_proc = 0;

	if (geteuid() == 0 && (setgroups(0, NULL) || setgid(65534) ||
			       setuid(65534))) {
		perror("drop to uid 65534");
		return 2;
	}
	printf("uid %d: joining connector groups 1..%d without CAP_NET_ADMIN\n",
	       getuid(), CN_GROUPS);
	for (g = 1; g <= CN_GROUPS; g++) {
		int eb = try_bind(g), ea = try_add(g);

		if (eb != ea)
			printf("group %2d: bind %s, add_membership %s\n", g,
			       eb ? strerror(eb) : "ok", ea ? strerror(ea) : "ok");
		if (eb && ea)
			continue;
		if (g == CN_IDX_PROC) {
			open_proc = 1;
			continue;
		}
		open_other++;
		printf("group %2d: OPEN to uid %d%s\n", g, getuid(),
		       g == CN_W1_IDX ? " (w1)" :
		       g == CN_IDX_DM ? " (dm-log-userspace)" :
		       g == CN_KVP_IDX ? " (Hyper-V KVP)" : "");
	}
	printf("group  1 (cn_proc): %s\n", open_proc ? "open" : "refused");
	if (open_other) {
		printf("BUG: %d connector groups besides CN_IDX_PROC are open without CAP_NET_ADMIN\n",
		       open_other);
		return 1;
	}
	printf("ok: no connector group besides CN_IDX_PROC is open\n");
	return 0;
}
