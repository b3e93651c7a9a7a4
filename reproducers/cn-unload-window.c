// SPDX-License-Identifier: GPL-2.0
/*
 * cn_call_callback() (drivers/connector/connector.c) finds a callback's
 * entry under the queue lock, takes a reference on it, drops the lock and
 * then calls the callback; cn_del_callback() unlinks the entry, drops the
 * list's reference and returns at once (cn_queue.c). A module that removes
 * its ids and unloads while a call is between the two leaves that call
 * jumping into freed module text: an oops in the sender's context. Fixed
 * by kernels/patches/connector/0001-*.patch (cn_del_callback() waits for
 * it).
 *
 * The window is a few instructions wide; a kernel built with cnlab's
 * kernels/patches/lab/connector-callback-delay-knob.patch widens it on
 * demand (cn.callback_delay_ms) and counts the calls it held
 * (cn.callback_delayed). This program, as root, sets the delay, sends one
 * message to ID from a child, waits until the core holds that call, and
 * unloads MODULE, which owns ID, under it. Any modular connector user
 * does: cnlab (default, echo id 14:0x456), or samples/connector's cn_test
 * (cn-unload-window cn_test 14 0x456).
 *
 * Exit 0: the unload waited for the held call, whose sender returned (the
 * fix). Exit 1: the sender died (the kernel oopsed in it), or the unload
 * did not wait (the bug). Exit 2: an error. Exit 77 and SKIP: the kernel
 * has no knob, nothing was checked.
 *
 * gcc -static -O2 -o cn-unload-window cn-unload-window.c
 * build/cnlab-vm -kernel "$d/bzImage" -kdir "$d/build" \
 *	-add cn-unload-window:/bin/cn-unload-window -exec /bin/cn-unload-window
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#define DELAY_PARAM "/sys/module/cn/parameters/callback_delay_ms"
#define DELAYED_PARAM "/sys/module/cn/parameters/callback_delayed"
#define DELAY_MS 5000

static int write_param(const char *path, unsigned long v)
{
	char buf[32];
	int fd, n, err = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%lu\n", v);
	if (write(fd, buf, n) != n)
		err = -errno;
	close(fd);
	return err;
}

static long read_param(const char *path)
{
	char buf[32] = "";
	int fd;
	ssize_t n;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	return strtol(buf, NULL, 10);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* send_one sends one message to id and returns once the core is done. */
static int send_one(struct cb_id id)
{
	struct {
		struct nlmsghdr nlh;
		struct cn_msg msg;
		char data[8];
	} req = {
		.nlh = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + 8),
			.nlmsg_type = NLMSG_DONE,
		},
		.msg = { .id = id, .seq = 1, .len = 8 },
		.data = "window",
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd;

	fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connector socket");
		return 2;
	}
	if (sendto(fd, &req, req.nlh.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		perror("send");
		return 2;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *module = argc > 1 ? argv[1] : "cnlab";
	struct cb_id id = {
		.idx = argc > 2 ? strtoul(argv[2], NULL, 0) : CN_NETLINK_USERS + 3,
		.val = argc > 3 ? strtoul(argv[3], NULL, 0) : 0x456,
	};
	long before, held = -1;
	double start, took;
	int status;
	pid_t pid;

	if (access(DELAY_PARAM, W_OK)) {
		printf("SKIP: %s: %s\n", DELAY_PARAM, strerror(errno));
		printf("SKIP: no knob in this kernel (%s): NOT checked\n",
		       "kernels/patches/lab/connector-callback-delay-knob.patch");
		return 77;
	}
	before = read_param(DELAYED_PARAM);
	if (before < 0 || write_param(DELAY_PARAM, DELAY_MS)) {
		perror(DELAY_PARAM);
		return 2;
	}
	printf("sending to %u:%u, held %d ms in the core, then unloading %s\n",
	       id.idx, id.val, DELAY_MS, module);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0)
		_exit(send_one(id));
	for (start = now(); now() - start < DELAY_MS / 2000.0; usleep(5000)) {
		held = read_param(DELAYED_PARAM);
		if (held > before)
			break;
	}
	write_param(DELAY_PARAM, 0);
	if (held <= before) {
		printf("the core held no call within %d ms: is %u:%u %s's?\n",
		       DELAY_MS / 2, id.idx, id.val, module);
		kill(pid, SIGKILL);
		return 2;
	}
	start = now();
	if (syscall(SYS_delete_module, module, O_NONBLOCK)) {
		perror(module);
		return 2;
	}
	took = now() - start;
	printf("%s unloaded in %.3f s, with a call to its callback held in the core\n",
	       module, took);
	fflush(stdout);
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		return 2;
	}
	if (WIFSIGNALED(status)) {
		printf("BUG: the sender was killed by signal %d: the kernel oopsed\n",
		       WTERMSIG(status));
		return 1;
	}
	if (WEXITSTATUS(status))
		return 2;
	if (took < 1.0) {
		printf("BUG: the unload did not wait for the held call\n");
		return 1;
	}
	printf("ok: cn_del_callback() waited for the call the core had found\n");
	return 0;
}
