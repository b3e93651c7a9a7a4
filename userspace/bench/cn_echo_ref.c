// SPDX-License-Identifier: GPL-2.0
/*
 * cn_echo_ref.c - the C reference client for "cnctl bench": blocking
 * send()/recv() round trips to a connector echo id, nothing else, so that the
 * Go client's round trip has a floor to be compared with in the same guest.
 *
 * usage: cn_echo_ref COUNT SIZE [IDX VAL]; prints "ns_per_rt <float>".
 */
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char req[NLMSG_SPACE(CONNECTOR_MAX_MSG_SIZE)];
	static char rep[NLMSG_SPACE(CONNECTOR_MAX_MSG_SIZE) + 64];
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nlh = (struct nlmsghdr *)req;
	struct cn_msg *msg = NLMSG_DATA(nlh);
	struct cn_msg *got = NLMSG_DATA((struct nlmsghdr *)rep);
	struct timespec t0, t1;
	long count, size, i;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: %s COUNT SIZE [IDX VAL]\n", argv[0]);
		return 2;
	}
	count = atol(argv[1]);
	size = atol(argv[2]);
	if (count <= 0 || size < 0 || size > CONNECTOR_MAX_MSG_SIZE - (long)sizeof(*msg)) {
		fprintf(stderr, "%s: bad COUNT or SIZE\n", argv[0]);
		return 2;
	}
	fd = socket(PF_NETLINK, SOCK_DGRAM, NETLINK_CONNECTOR);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("cn_echo_ref: socket");
		return 1;
	}
	msg->id.idx = argc > 4 ? strtoul(argv[3], NULL, 0) : CN_NETLINK_USERS + 3;
	msg->id.val = argc > 4 ? strtoul(argv[4], NULL, 0) : 0x456;
	msg->len = size;
	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*msg) + size);
	nlh->nlmsg_type = NLMSG_DONE;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < count; i++) {
		msg->seq = nlh->nlmsg_seq = i;
		if (send(fd, req, nlh->nlmsg_len, 0) < 0) {
			perror("cn_echo_ref: send");
			return 1;
		}
		if (recv(fd, rep, sizeof(rep), 0) < 0) {
			perror("cn_echo_ref: recv");
			return 1;
		}
		if (got->seq != msg->seq || got->ack != msg->seq + 1) {
			fprintf(stderr, "cn_echo_ref: seq %u ack %u is not the reply to seq %u\n",
				got->seq, got->ack, msg->seq);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("ns_per_rt %.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 +
				   (t1.tv_nsec - t0.tv_nsec)) / count);
	return 0;
}
