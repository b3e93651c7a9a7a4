package e2e

import (
	"encoding/binary"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/proc"
)

// A socket with CAP_NET_ADMIN may send to the process events group like the
// kernel does (netlink_sendmsg wants NL_CFG_F_NONROOT_SEND or the
// capability, nothing more), so an event on group 1 is the kernel's only if
// its netlink source port is 0.
var _ = Describe("A process event forged by a user-space socket", Label("proc"), func() {
	It("is reported by the proc.Conn as a *proc.ForgedError naming the forger's port, never as an event", func() {
		c := procListen(proc.All, 0)
		receiveEvents(c, nil) // what the subscription itself brought

		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
		Expect(err).NotTo(HaveOccurred(), "forger's socket")
		DeferCleanup(unix.Close, fd)
		Expect(unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})).To(Succeed(), "bind the forger")
		sa, err := unix.Getsockname(fd)
		Expect(err).NotTo(HaveOccurred())
		port := sa.(*unix.SockaddrNetlink).Pid
		Expect(port).NotTo(BeZero(), "the kernel gives a bound socket a port")

		const seq = 0xf0f0
		ev := proc.Event{What: proc.Exit, PID: 1, TGID: 1, ExitCode: 9}
		data, err := ev.MarshalBinary()
		Expect(err).NotTo(HaveOccurred())
		body, err := (&connector.Message{ID: proc.ID, Seq: seq, Data: data}).MarshalBinary()
		Expect(err).NotTo(HaveOccurred())
		msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
		binary.NativeEndian.PutUint32(msg[0:4], uint32(unix.NLMSG_HDRLEN+len(body)))
		binary.NativeEndian.PutUint16(msg[4:6], unix.NLMSG_DONE)
		binary.NativeEndian.PutUint32(msg[12:16], port)
		msg = append(msg, body...)
		group := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (proc.Group - 1)}
		Expect(unix.Sendto(fd, msg, 0, group)).To(Succeed(), "send to group %d with CAP_NET_ADMIN", proc.Group)

		var forged *proc.ForgedError
		for forged == nil {
			e, err := c.Receive(timeout(replyTimeout))
			switch {
			case errors.As(err, &forged):
			case err == nil:
				Expect(e.What == proc.Exit && e.PID == 1).To(BeFalse(), "the forged exit was taken as an event: %s", e.String())
			default:
				Fail("no ForgedError for the forged event: " + err.Error())
			}
		}
		Expect(forged).To(MatchError(proc.ErrForged))
		Expect(forged.Port).To(Equal(port), "the forger's port: %v", forged)
		Expect(forged.Group).To(Equal(uint32(proc.Group)))
		Expect(forged.ID).To(Equal(proc.ID))
		Expect(forged.Seq).To(Equal(uint32(seq)))
		Expect(forged.Len).To(Equal(len(data)))
		Expect(c.Stats().Forged).To(Equal(uint64(1)))
	})
})
