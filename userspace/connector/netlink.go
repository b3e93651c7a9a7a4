package connector

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cnlab/cnlab/userspace/wire"
)

// Netlink framing of connector messages. The kernel's connector sends
// NLMSG_DONE-typed messages and ignores the type of those it receives.
const (
	nlmsgHdrLen = 16
	nlmsgError  = 0x2
	nlmsgDone   = 0x3
)

// Groups is the number of multicast groups of the connector's socket
// (CN_NETLINK_USERS + 0xf); they are numbered from 1.
const Groups = wire.Groups

// checkGroup refuses a group the connector does not have.
func checkGroup(group uint32) error {
	if group < 1 || group > Groups {
		return fmt.Errorf("%w: the connector has groups 1 to %d (CN_NETLINK_USERS + 0xf)", ErrNoSuchGroup, Groups)
	}
	return nil
}

// Source is where a received message came from: the sending socket's port id
// (0 for the kernel) and, for a multicast message, the group bit mask.
type Source struct {
	PortID uint32
	Groups uint32
}

// Group returns the multicast group the message was sent to, or 0 for a
// unicast message. Only groups 1 to 32 can be reported this way, which
// covers all of the connector's.
func (s Source) Group() uint32 {
	for g := uint32(1); g <= 32; g++ {
		if s.Groups == 1<<(g-1) {
			return g
		}
	}
	return 0
}

// appendNetlink appends one netlink message carrying m to b. nlmsg_len is
// exact (not rounded up), nlmsg_seq is m.Seq as the kernel's samples do.
func appendNetlink(b []byte, m *Message, portID uint32) ([]byte, error) {
	if len(m.Data) > MaxData {
		return b, errTooBig(len(m.Data))
	}
	start := len(b)
	n := nlmsgHdrLen + HeaderLen + len(m.Data)
	b = slices.Grow(b, n)[:start+n]
	h := b[start:]
	binary.NativeEndian.PutUint32(h[0:4], uint32(n))
	binary.NativeEndian.PutUint16(h[4:6], nlmsgDone)
	binary.NativeEndian.PutUint16(h[6:8], 0)
	binary.NativeEndian.PutUint32(h[8:12], m.Seq)
	binary.NativeEndian.PutUint32(h[12:16], portID)
	m.putHeader(h[nlmsgHdrLen:])
	copy(h[nlmsgHdrLen+HeaderLen:], m.Data)
	return b, nil
}

// nextNetlink splits the first netlink message off a datagram. It returns the
// message's type, its nlmsg_pid and payload, and the rest of the datagram.
func nextNetlink(b []byte) (typ uint16, pid uint32, payload, rest []byte, err error) {
	if len(b) < nlmsgHdrLen {
		return 0, 0, nil, nil, fmt.Errorf("%w: %d bytes left in the datagram, shorter than a netlink header", ErrMalformed, len(b))
	}
	n := int(binary.NativeEndian.Uint32(b[0:4]))
	if n < nlmsgHdrLen || n > len(b) {
		return 0, 0, nil, nil, fmt.Errorf("%w: nlmsg_len %d with %d bytes in the datagram", ErrMalformed, n, len(b))
	}
	typ = binary.NativeEndian.Uint16(b[4:6])
	pid = binary.NativeEndian.Uint32(b[12:16])
	payload = b[nlmsgHdrLen:n]
	if a := align4(n); a < len(b) {
		rest = b[a:]
	}
	return typ, pid, payload, rest, nil
}
