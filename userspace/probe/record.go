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
	Delivered Outcome = "delivered"
	QueueFull Outcome = "dropped: receive queue full"
	// NoClone is netlink_overrun at a listener whose queue was empty and
	// not congested: the broadcast's skb_clone failed there or at an
	// earlier listener. (A failed clone at a queue holding something
	// reads as QueueFull.)
	NoClone Outcome = "dropped: out of memory cloning it for this listener"
	// Filtered is a socket filter's drop: netlink_unicast still returns
	// the message's length.
	Filtered   Outcome = "dropped by the socket's filter"
	NoListener Outcome = "no listener on the group"
	// NoneTook is a broadcast's -ESRCH from the listeners' loop: the
	// group had listeners, and each filtered it out or sits in another
	// network namespace.
	NoneTook Outcome = "no listener took it (each filtered it or sits in another network namespace)"
	// ListenerFailed is -ENOBUFS: a listener with
	// NETLINK_BROADCAST_SEND_ERROR could not take it (queue full, or a
	// failed clone).
	ListenerFailed Outcome = "a listener with NETLINK_BROADCAST_SEND_ERROR could not take it (-ENOBUFS)"
	NoSuchPort     Outcome = "no such port"
	OutOfMemory    Outcome = "out of memory"
	TooBig         Outcome = "message too big"
	NoCallback     Outcome = "no callback registered for the id"
)

// Mode is how much the probes record.
type Mode int

const (
	// ModeCounters: per-id counts of sends by return code, and of drops; no
	// records. The default.
	ModeCounters Mode = iota
	// ModeLosses: counters, and a record of each send that did not reach
	// every receiver it was sent to, listing only the sockets that did
	// not get it.
	ModeLosses
	// ModeAll: counters, and a record of every send with every socket
	// reached.
	ModeAll
)

func (m Mode) String() string {
	switch m {
	case ModeCounters:
		return "counters"
	case ModeLosses:
		return "losses"
	case ModeAll:
		return "all"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Receiver is one socket a send reached.
type Receiver struct {
	PortID  uint32
	Outcome Outcome // Delivered or QueueFull
	// Read as netlink_overrun starts, before it counts this drop and
	// marks the socket congested: Congested says it already was
	// (NETLINK_S_CONGESTED), Drops is sk_drops before this drop.
	Congested bool
	Drops     uint32
	RcvBuf    int32
	RmemAlloc int32 // sk_rmem_alloc then, without the dropped skb
}

// Record is one kernel-to-user send: cn_netlink_send_mult and what it did.
type Record struct {
	ID       connector.ID
	Seq, Ack uint32
	Len      uint32
	Time     time.Duration // since boot, when the send returned
	// PortID alone: a unicast to that port. Group: a broadcast to it,
	// excluding PortID's socket when PortID is set too. A send with
	// both 0 goes to the group of its callback, id.idx: Group says so,
	// with GroupResolved.
	PortID        uint32
	Group         uint32
	GroupResolved bool
	Ret           int32 // what cn_netlink_send_mult returned
	// Delivered, Dropped (full queues) and Failed (failed clones and
	// filter drops) count the sockets; Receivers lists the first eight of
	// them. In mode ModeLosses (LossesOnly) only the sockets that did not get
	// it are counted and listed.
	Delivered, Dropped, Failed uint32
	Receivers                  []Receiver
	// BroadcastMissed: the listeners' loop ran and returned -ESRCH (the
	// group had listeners; none took it).
	BroadcastMissed bool
	LossesOnly      bool
}

// Inbound is one user-to-kernel message, as cn_rx_skb got it.
type Inbound struct {
	Time     time.Duration
	ID       connector.ID
	Seq, Ack uint32
	Len      uint32
	NlmsgLen uint32
	PortID   uint32 // the sending socket's port: NETLINK_CB(skb).portid
	NlmsgPid uint32 // nlmsg_pid as the sender wrote it, which it may set to anything
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
// A broadcast returns -ESRCH when no socket listens on the group, and also
// when the group's listeners took none of it: each overran (the receivers
// say so), filtered it, or sits in another network namespace
// (BroadcastMissed).
func (r *Record) Outcome() Outcome {
	lost := r.Dropped + r.Failed
	switch errno := syscall.Errno(-r.Ret); {
	case r.Ret >= 0:
		if lost > 0 {
			if r.IsUnicast() && r.Dropped == 0 && r.onlyFiltered() {
				return Filtered
			}
			if r.LossesOnly {
				return Outcome("not delivered everywhere: " + r.losses())
			}
			return Outcome(fmt.Sprintf("delivered to %d, %s", r.Delivered, r.losses()))
		}
		if r.Group == 0 && r.Delivered == 0 && !r.LossesOnly {
			// netlink_unicast returns the length when the filter
			// drops it.
			return Filtered
		}
		return Delivered
	case errno == syscall.EAGAIN:
		return QueueFull
	case errno == syscall.ESRCH && r.Dropped > 0 && r.Failed == 0:
		return QueueFull
	case errno == syscall.ESRCH && r.Failed > 0 && r.Dropped == 0 && r.onlyFiltered():
		return Filtered
	case errno == syscall.ESRCH && lost > 0:
		return Outcome("no listener took it: " + r.losses())
	case errno == syscall.ESRCH && r.BroadcastMissed:
		return NoneTook
	case errno == syscall.ESRCH:
		return NoListener
	case errno == syscall.ECONNREFUSED:
		return NoSuchPort
	case errno == syscall.ENOBUFS:
		return ListenerFailed
	case errno == syscall.ENOMEM:
		return OutOfMemory
	case errno == syscall.EMSGSIZE:
		return TooBig
	case errno == syscall.ENODEV:
		return NoCallback
	default:
		return Outcome("failed: " + errno.Error())
	}
}

// losses is where it was lost, in words.
func (r *Record) losses() string {
	var parts []string
	if r.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("dropped at %d (receive queue full)", r.Dropped))
	}
	if r.Failed > 0 {
		parts = append(parts, fmt.Sprintf("not taken at %d (filter or failed clone)", r.Failed))
	}
	return strings.Join(parts, ", ")
}

// onlyFiltered reports whether every listed receiver's outcome is Filtered.
func (r *Record) onlyFiltered() bool {
	for _, rc := range r.Receivers {
		if rc.Outcome != Filtered {
			return false
		}
	}
	return len(r.Receivers) > 0
}

// Destination is "port P", "group G", or "group G except port P".
func (r *Record) Destination() string {
	switch {
	case r.Group == 0:
		return fmt.Sprintf("port %d", r.PortID)
	case r.PortID != 0:
		return fmt.Sprintf("group %d except port %d", r.Group, r.PortID)
	}
	return fmt.Sprintf("group %d", r.Group)
}

// IsUnicast reports whether the send went to one port.
func (r *Record) IsUnicast() bool { return r.Group == 0 }

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
		if rc.Outcome == QueueFull || rc.Outcome == NoClone {
			fmt.Fprintf(&b, ", drops %d before, queue %d of %d bytes", rc.Drops, rc.RmemAlloc, rc.RcvBuf)
		}
		b.WriteString("]")
	}
	if n := int(r.Delivered + r.Dropped + r.Failed); n > len(r.Receivers) {
		fmt.Fprintf(&b, " (+%d more sockets)", n-len(r.Receivers))
	}
	return b.String()
}

// String is one line: time, id, seq/ack, len, from which port.
func (in *Inbound) String() string {
	return fmt.Sprintf("%14.6f %-9s seq %-10d ack %-10d len %-5d <- port %d", in.Time.Seconds(), in.ID, in.Seq, in.Ack, in.Len, in.PortID)
}
