// SPDX-License-Identifier: GPL-2.0
/*
 * Since 6.6, cn_proc_mcast_ctl() gives every socket that sends it a
 * request a struct proc_input (sk->sk_user_data, 8 bytes, kmalloc-8),
 * and only cn_release() frees it, and only for a socket that is in group
 * CN_IDX_PROC when it is closed. A socket that never joined group 1, or
 * joined and left it, leaks its proc_input: any user can leak kernel
 * memory 8 bytes a socket, without bound.
 *
 * Run as root (to read /proc/slabinfo). As uid 65534, N sockets each send
 * one IGNORE (which leaves the listener count alone) without joining any
 * group, and close. The objects of the 8-byte kmalloc caches are counted
 * before and after. Exit 1 if at least N/2 more are in use (the leak).
 * A kernel without /proc/slabinfo (CONFIG_SLUB_DEBUG off) is measured by
 * SUnreclaim in /proc/meminfo instead: at least N * 8 / 2 bytes more.
 *
 * gcc -static -O2 -o cn-proc-input-leak cn-proc-input-leak.c
 */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#define SOCKETS 100000

/* sunreclaim returns SUnreclaim of /proc/meminfo, in bytes. */
static long sunreclaim(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f) {
		perror("/proc/meminfo");
		exit(2);
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SUnreclaim: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/*
 * kmalloc8 sums the active objects of the kmalloc caches of 8-byte
 * objects, or returns -1 if the kernel has no /proc/slabinfo.
 */
static long kmalloc8(void)
{
	char line[512], name[128];
	long active, total, size, sum = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %ld %ld %ld", name, &active, &total,
			   &size) == 4 && size == 8 &&
		    !strncmp(name, "kmalloc", 7))
			sum += active;
	fclose(f);
	return sum;
}

static void ignore_and_close(void)
{
	char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(int))] = { 0 };
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct cn_msg *msg = NLMSG_DATA(nlh);
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	unsigned int op = PROC_CN_MCAST_IGNORE;
	int fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR);

	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*msg) + sizeof(op));
	nlh->nlmsg_type = NLMSG_DONE;
	msg->id.idx = CN_IDX_PROC;
	msg->id.val = CN_VAL_PROC;
	msg->len = sizeof(op);
	memcpy(msg->data, &op, sizeof(op));
	if (sendto(fd, buf, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0) {
		perror("send IGNORE");
		exit(2);
	}
	close(fd);
}

int main(void)
{
	long before, after, want = SOCKETS / 2;
	const char *what = "8-byte kmalloc objects";
	int pid, i, status, slab;

	before = kmalloc8();
	slab = before >= 0;
	if (!slab) {
		what = "SUnreclaim bytes (no /proc/slabinfo)";
		want = SOCKETS * 8 / 2;
		before = sunreclaim();
	}
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) {
			perror("drop to uid 65534");
			_exit(2);
		}
		for (i = 0; i < SOCKETS; i++)
			ignore_and_close();
		_exit(0);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("the uid 65534 child failed (status %#x)\n", status);
		return 2;
	}
	sleep(1); /* let RCU-deferred frees of the sockets run */
	after = slab ? kmalloc8() : sunreclaim();
	printf("%d sockets of uid 65534 sent IGNORE and closed: %s %ld -> %ld (%+ld)\n",
	       SOCKETS, what, before, after, after - before);
	if (after - before >= want) {
		printf("BUG: about one struct proc_input leaked per socket\n");
		return 1;
	}
	printf("ok: no proc_input left behind\n");
	return 0;
}
