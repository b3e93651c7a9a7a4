package e2e

import (
	"encoding/binary"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/wire"
)

// What cn_netlink_send_mult() writes around a message, read from the raw
// datagrams and the sender's address: what a client of another library (or
// none, as ucon.c) relies on, and cnlab's client does not look at.
var _ = Describe("The connector core's netlink framing", Label("core"), func() {
	var l *ledger
	withLedger(&l)

	// raw opens a NETLINK_CONNECTOR socket of its own, on the groups of
	// the bit mask.
	raw := func(groups uint32) int {
		GinkgoHelper()
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM, unix.NETLINK_CONNECTOR)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(unix.Close, fd)
		Expect(unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups})).To(Succeed())
		tv := unix.NsecToTimeval(replyTimeout.Nanoseconds())
		Expect(unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)).To(Succeed())
		return fd
	}
	// read returns the next datagram's netlink header fields, its cn_msg
	// and the sender's address.
	read := func(fd int) (nlSeq uint32, m connector.Message, from *unix.SockaddrNetlink) {
		GinkgoHelper()
		buf := make([]byte, 65536)
		n, sa, err := unix.Recvfrom(fd, buf, 0)
		Expect(err).NotTo(HaveOccurred(), "no message arrived")
		Expect(n).To(BeNumerically(">=", wire.NlmsgHdrLen), "a datagram shorter than a netlink header")
		Expect(m.UnmarshalBinary(buf[wire.NlmsgHdrLen:n])).To(Succeed())
		from, ok := sa.(*unix.SockaddrNetlink)
		Expect(ok).To(BeTrue(), "sender address %T", sa)
		return binary.NativeEndian.Uint32(buf[8:12]), m, from
	}

	It("puts the message's seq in nlmsg_seq, and says a reply is the kernel's unicast", func() {
		fd := raw(0)
		const seq = 0x5eed0123
		req := connector.Message{ID: echoID, Seq: seq, Data: []byte("framing")}
		b, err := req.MarshalBinary()
		Expect(err).NotTo(HaveOccurred())
		// nlmsg_seq written as 0 by the sender: the kernel's header must
		// take msg->seq, not the request's.
		nl := binary.NativeEndian.AppendUint32(nil, uint32(wire.NlmsgHdrLen+len(b)))
		nl = binary.NativeEndian.AppendUint16(nl, unix.NLMSG_DONE)
		nl = append(nl, make([]byte, 10)...) // flags, seq, portid
		nl = append(nl, b...)
		Expect(unix.Sendto(fd, nl, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})).To(Succeed())
		l.sent.Add(1)

		nlSeq, reply, from := read(fd)
		Expect(reply.IsReplyTo(echoID, seq)).To(BeTrue(), "the reply: %+v", reply)
		l.replies.Add(1)
		Expect(nlSeq).To(Equal(uint32(seq)), "nlmsg_seq of the reply")
		Expect(from.Pid).To(BeZero(), "the sender's port: the kernel's")
		Expect(from.Groups).To(BeZero(), "a unicast reply's groups")
	})

	It("puts the message's seq in nlmsg_seq of a broadcast, and its group in the sender's address", func() {
		fd := raw(1 << (groupA - 1))
		res, err := ctl().Burst(timeout(replyTimeout), wire.Burst{Group: groupA, Count: 3, Size: wire.SizeofBcast})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Ok).To(Equal(uint32(3)))
		for i := uint32(0); i < 3; i++ {
			nlSeq, m, from := read(fd)
			Expect(m.Seq).To(Equal(res.Seq+i), "message %d of the burst", i)
			Expect(nlSeq).To(Equal(m.Seq), "nlmsg_seq of broadcast %d", i)
			Expect(from.Pid).To(BeZero(), "the sender's port: the kernel's")
			Expect(from.Groups).To(Equal(uint32(1)<<(groupA-1)), "the group of broadcast %d in the sender's address", i)
		}
	})
})
