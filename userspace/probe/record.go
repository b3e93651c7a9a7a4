package probe

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
)

// Outcome is what happened to a message at one socket, or to a send.
type Outcome string

// Outcomes, in words a person reads.
const (
	Delivered   Outcome = "delivered"
	QueueFull   Outcome = "dropped: receive queue full"
	NoListener  Outcome = "no listener on the group"
	NoSuchPort  Outcome = "no such port"
	OutOfMemory Outcome = "out of memory"
	TooBig      Outcome = "message too big"
	NoCallback  Outcome = "no callback registered for the id"
)

// Receiver is one socket a send reached.
type Receiver struct {
	PortID    uint32
	Outcome   Outcome // Delivered or QueueFull
	Congested bool    // the socket was marked congested (NETLINK_S_CONGESTED)
	Drops     uint32  // the socket's drop counter after this message
	RcvBuf    int32
}

// Record is one kernel-to-user send: cn_netlink_send_mult and what it did.
type Record struct {
	Time     time.Duration // since boot, when the send started
	ID       connector.ID
	Seq, Ack uint32
	Len      uint32
	PortID   uint32 // the destination port, 0 for a broadcast
	Group    uint32 // the destination group, 0 for a unicast
	Ret      int32  // what cn_netlink_send_mult returned
	// Delivered and Dropped count the sockets; Receivers lists the first
	// eight of them.
	Delivered, Dropped uint32
	Receivers          []Receiver
}

// Inbound is one user-to-kernel message, as cn_rx_skb got it.
type Inbound struct {
	Time     time.Duration
	ID       connector.ID
	Seq, Ack uint32
	Len      uint32
	NlmsgLen uint32
	PortID   uint32 // nlmsg_pid as the sender wrote it
}

// Event is one event of the probes, as Probe.ReadInto fills it: exactly one
// of Send and Inbound is set, pointing into the Event's own memory.
type Event struct {
	Send    *Record
	Inbound *Inbound
	send    Record
	in      Inbound
}

// Outcome says in words what happened to the send as a whole.
//
// A broadcast returns -ESRCH both when no socket listens on the group and
// when every listener's queue was full; the overrun records tell which.
func (r *Record) Outcome() Outcome {
	switch errno := syscall.Errno(-r.Ret); {
	case r.Ret >= 0:
		if r.Dropped > 0 {
			return Outcome(fmt.Sprintf("delivered to %d, dropped at %d (receive queue full)", r.Delivered, r.Dropped))
		}
		return Delivered
	case errno == syscall.ESRCH && r.Dropped > 0, errno == syscall.EAGAIN:
		return QueueFull
	case errno == syscall.ESRCH:
		return NoListener
	case errno == syscall.ECONNREFUSED:
		return NoSuchPort
	case errno == syscall.ENOMEM, errno == syscall.ENOBUFS:
		return OutOfMemory
	case errno == syscall.EMSGSIZE:
		return TooBig
	case errno == syscall.ENODEV:
		return NoCallback
	default:
		return Outcome("failed: " + errno.Error())
	}
}

// Destination is "group G" or "port P".
func (r *Record) Destination() string {
	if r.PortID == 0 {
		return fmt.Sprintf("group %d", r.Group)
	}
	return fmt.Sprintf("port %d", r.PortID)
}

// DroppedAt reports whether the record shows the message dropped at the
// socket with port id portid because its receive queue was full.
func (r *Record) DroppedAt(portid uint32) bool { return r.Lists(portid, QueueFull) }

// Lists reports whether the record lists the socket with port id portid
// with outcome o.
func (r *Record) Lists(portid uint32, o Outcome) bool {
	for _, rc := range r.Receivers {
		if rc.PortID == portid && rc.Outcome == o {
			return true
		}
	}
	return false
}

// String is one line in the style of pwru: time, id, seq/ack, len,
// destination, outcome, and the sockets reached.
func (r *Record) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%14.6f %-9s seq %-10d ack %-10d len %-5d -> %-10s ret %-4d %s", r.Time.Seconds(), r.ID, r.Seq, r.Ack, r.Len, r.Destination(), r.Ret, r.Outcome())
	for _, rc := range r.Receivers {
		fmt.Fprintf(&b, " [port %d: %s", rc.PortID, rc.Outcome)
		if rc.Outcome == QueueFull {
			fmt.Fprintf(&b, ", drops %d", rc.Drops)
		}
		b.WriteString("]")
	}
	if n := int(r.Delivered + r.Dropped); n > len(r.Receivers) {
		fmt.Fprintf(&b, " (+%d more sockets)", n-len(r.Receivers))
	}
	return b.String()
}

// String is one line: time, id, seq/ack, len, from which port.
func (in *Inbound) String() string {
	return fmt.Sprintf("%14.6f %-9s seq %-10d ack %-10d len %-5d <- port %d", in.Time.Seconds(), in.ID, in.Seq, in.Ack, in.Len, in.PortID)
}
