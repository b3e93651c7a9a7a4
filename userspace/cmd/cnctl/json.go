package main

import (
	"strconv"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/probe"
	"github.com/cnlab/cnlab/userspace/seqgap"
)

// cnctl's JSON output: one object a line, names in snake_case. Every line
// has "type", what the line is ("reply", "message", "summary", ...: the
// same key in every command), and "time", when cnctl printed it (for
// trace's records, when the kernel made them), in RFC 3339 with date,
// fraction and zone. Each command's lines are the types below (ping's are
// in ping.go, proc's in proc.go); TestJSONSchema pins their field names.
// A field is added, never renamed or removed, and a field a line's type
// has is always there, zero or not: only those documented as optional
// (a gap's "missed", a failed operation's "error") come and go.

// timestamp formats t as every JSON time of cnctl: RFC 3339 with
// nanoseconds and the zone.
func timestamp(t time.Time) string { return t.Format(time.RFC3339Nano) }

// seqRange is a range of missed seqs, first and last included.
type seqRange struct {
	First uint32 `json:"first"`
	Last  uint32 `json:"last"`
	Count uint64 `json:"count"`
}

func toSeqRange(r seqgap.Range) seqRange { return seqRange{r.First, r.Last, r.Len()} }

// messageLine is a line of listen and send (type "message"): a message
// that arrived.
type messageLine struct {
	Type string `json:"type"` // message
	Time string `json:"time"`
	// Group is the multicast group the message was sent to, 0 for a
	// unicast; Port the sender's port id, 0 for the kernel.
	Group uint32 `json:"group"`
	Port  uint32 `json:"port"`
	ID    string `json:"id"`
	Seq   uint32 `json:"seq"`
	Ack   uint32 `json:"ack"`
	Len   int    `json:"len"`
	What  string `json:"what"` // what cnlab's broadcasts and notifications are; "" for others
	// Optional: Missed are the seqs of this stream that never arrived,
	// before this one; Order is set when the seq went backwards.
	Missed []seqRange `json:"missed,omitempty"`
	Order  string     `json:"order,omitempty"`
}

// overrunLine is a line of listen and send (type "overrun"): the socket's
// receive queue overflowed.
type overrunLine struct {
	Type    string `json:"type"` // overrun
	Time    string `json:"time"`
	Message string `json:"message"` // what it means
}

// sentLine is send's first line (type "sent"): the message sent.
type sentLine struct {
	Type string `json:"type"` // sent
	Time string `json:"time"`
	ID   string `json:"id"`
	Seq  uint32 `json:"seq"`
	Ack  uint32 `json:"ack"`
	Len  int    `json:"len"`
}

// listenSummary is the last line of listen and send.
type listenSummary struct {
	Type     string `json:"type"` // summary
	Time     string `json:"time"`
	Received int    `json:"received"`
	Missed   uint64 `json:"missed"`
	Gaps     int    `json:"gaps"`
	Overruns int    `json:"overruns"`
}

// ctlResult is the one line of every ctl operation (type "result"): ok,
// the operation, and what was done and its result (stats, burst) or, if
// not ok, the error.
type ctlResult struct {
	Type   string `json:"type"` // result
	OK     bool   `json:"ok"`
	Op     string `json:"op"`
	Time   string `json:"time"`
	What   string `json:"what,omitempty"`  // optional: what was done, when ok
	Error  string `json:"error,omitempty"` // optional: why not, when not ok
	Stats  *stats `json:"stats,omitempty"` // stats only
	Burst  *burst `json:"burst,omitempty"` // burst only
	Module string `json:"module_id"`       // the control id asked

	raw *control.Stats // for the text output
}

// stats are the module's counters by name.
type stats struct {
	Echo struct {
		Received uint64 `json:"received"`
		Replied  uint64 `json:"replied"`
		Invalid  uint64 `json:"invalid"`
	} `json:"echo"`
	Control struct {
		Received uint64 `json:"received"`
		Invalid  uint64 `json:"invalid"`
		Refused  uint64 `json:"refused"`
	} `json:"control"`
	ExtraReceived uint64 `json:"extra_received"`
	ExtraInvalid  uint64 `json:"extra_invalid"`
	// Slots are the further ids' counters by slot ("0" to "15"), only
	// the slots registered or with messages counted since.
	Slots map[string]slotStats `json:"slots"`
	Late  struct {
		Pending  uint64 `json:"pending"`
		Bytes    uint64 `json:"bytes"`
		BytesMax uint64 `json:"bytes_max"`
		Dropped  uint64 `json:"dropped"`
	} `json:"late"`
	TimerTicks    uint64 `json:"timer_ticks"`
	Notifications uint64 `json:"notifications"`
	Allocs        uint64 `json:"allocs"`
	Frees         uint64 `json:"frees"`
	Held          uint64 `json:"held"`
	// SendErrors counts failed sends by errno name (EAGAIN, ESRCH, ...).
	SendErrors map[string]uint64 `json:"send_errors"`
	// Dests are the send results per destination: "unicast" and
	// "group N", only those sent to.
	Dests map[string]destStats `json:"dests"`
}

type slotStats struct {
	ID         string `json:"id"`
	Registered bool   `json:"registered"`
	Received   uint64 `json:"received"`
	Invalid    uint64 `json:"invalid"`
}

type destStats struct {
	Sent         uint64 `json:"sent"`
	OK           uint64 `json:"ok"`
	ESRCH        uint64 `json:"esrch"`
	EAGAIN       uint64 `json:"eagain"`
	ECONNREFUSED uint64 `json:"econnrefused"`
	ENOMEM       uint64 `json:"enomem"`
	Other        uint64 `json:"other"`
}

// burst is a burst's result: the seqs it used and how its sends went.
type burst struct {
	FirstSeq uint32 `json:"first_seq"`
	Count    uint32 `json:"count"`
	OK       uint32 `json:"ok"`
	Failed   uint32 `json:"failed"`
}

func toStats(st *control.Stats) *stats {
	var s stats
	s.Echo.Received, s.Echo.Replied, s.Echo.Invalid = st.Received, st.Replied, st.Invalid
	s.Control.Received, s.Control.Invalid, s.Control.Refused = st.CtlReceived, st.CtlInvalid, st.CtlRefused
	s.ExtraReceived, s.ExtraInvalid = st.ExtraReceived, st.ExtraInvalid
	s.TimerTicks, s.Notifications = st.TimerTicks, st.Notifications
	s.Slots = map[string]slotStats{}
	for i, e := range st.Extra {
		if e.Used != 0 || e.Received != 0 || e.Invalid != 0 {
			id := connector.ID{Idx: e.Idx, Val: e.Val}
			s.Slots[strconv.Itoa(i)] = slotStats{id.String(), e.Used != 0, e.Received, e.Invalid}
		}
	}
	s.Late.Pending, s.Late.Bytes = st.LatePending, st.LateBytes
	s.Late.BytesMax, s.Late.Dropped = st.LateBytesMax, st.LateDropped
	s.Allocs, s.Frees, s.Held = st.Allocs, st.Frees, st.Held
	s.SendErrors = map[string]uint64{}
	for _, ec := range control.SendErrors(st) {
		s.SendErrors[errnoName(ec.Errno)] = ec.Count
	}
	s.Dests = map[string]destStats{}
	for g, d := range st.Dests {
		if d.Sent == 0 {
			continue
		}
		s.Dests[destName(g)] = destStats{d.Sent, d.Ok, d.Esrch, d.Eagain, d.Econnrefused, d.Enomem, d.Other}
	}
	return &s
}

func destName(g int) string {
	if g == 0 {
		return "unicast"
	}
	return "group " + strconv.Itoa(g)
}

// errnoName is an errno's symbolic name where cnlab's sends meet it, its
// number otherwise.
func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EAGAIN:
		return "EAGAIN"
	case syscall.ESRCH:
		return "ESRCH"
	case syscall.ECONNREFUSED:
		return "ECONNREFUSED"
	case syscall.ENOMEM:
		return "ENOMEM"
	case syscall.ENOBUFS:
		return "ENOBUFS"
	case syscall.EMSGSIZE:
		return "EMSGSIZE"
	case syscall.EPERM:
		return "EPERM"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.ENODEV:
		return "ENODEV"
	}
	return "errno " + strconv.Itoa(int(e))
}

// traceSend is a line of trace (type "send"): one send of the kernel and
// what became of it at each receiver.
type traceSend struct {
	Type string `json:"type"` // send
	Time string `json:"time"`
	// KtimeNS is the kernel's time of the send (CLOCK_MONOTONIC), for
	// ordering and for matching other kernel records.
	KtimeNS       int64  `json:"ktime_ns"`
	ID            string `json:"id"`
	Seq           uint32 `json:"seq"`
	Ack           uint32 `json:"ack"`
	Len           uint32 `json:"len"`
	Port          uint32 `json:"port"`
	Group         uint32 `json:"group"`
	GroupResolved bool   `json:"group_resolved"`
	Ret           int32  `json:"ret"`
	Outcome       string `json:"outcome"`
	// Delivered, Dropped and Failed count the sockets; in the losses
	// mode (LossesOnly) only those that did not get it.
	Delivered       uint32          `json:"delivered"`
	Dropped         uint32          `json:"dropped"`
	Failed          uint32          `json:"failed"`
	BroadcastMissed bool            `json:"broadcast_missed"`
	LossesOnly      bool            `json:"losses_only"`
	Receivers       []traceReceiver `json:"receivers"` // the first eight
}

// traceReceiver is one socket a send reached.
type traceReceiver struct {
	Port      uint32 `json:"port"`
	Outcome   string `json:"outcome"`
	Congested bool   `json:"congested"`
	Drops     uint32 `json:"drops"`
	RcvBuf    int32  `json:"rcvbuf"`
	RmemAlloc int32  `json:"rmem_alloc"`
}

// traceInbound is a line of trace (type "inbound"): a message from user
// space to the kernel.
type traceInbound struct {
	Type     string `json:"type"` // inbound
	Time     string `json:"time"`
	KtimeNS  int64  `json:"ktime_ns"`
	ID       string `json:"id"`
	Seq      uint32 `json:"seq"`
	Ack      uint32 `json:"ack"`
	Len      uint32 `json:"len"`
	NlmsgLen uint32 `json:"nlmsg_len"`
	Port     uint32 `json:"port"`
	NlmsgPid uint32 `json:"nlmsg_pid"`
}

// traceSummary is trace's last line.
type traceSummary struct {
	Type        string `json:"type"` // summary
	Time        string `json:"time"`
	Records     int    `json:"records"`
	NotRecorded uint64 `json:"not_recorded"` // the sum of skips
	// UserSpaceDrops are drops at connector sockets while no kernel send
	// was in progress on the task (probe.Skips.UserSpace): not a skip.
	UserSpaceDrops uint64 `json:"user_space_drops"`
	Skips          struct {
		RingBuffer   uint64 `json:"ring_buffer"`
		TooDeep      uint64 `json:"too_deep"`
		NoStorage    uint64 `json:"no_storage"`
		Unattributed uint64 `json:"unattributed"`
		CountersFull uint64 `json:"counters_full"`
		Recursion    uint64 `json:"recursion"`
		// Skipped is Recursion by program ("fexit cn_netlink_send_mult").
		Skipped map[string]uint64 `json:"skipped"`
	} `json:"skips"`
	// Outcomes count the records by id and outcome.
	Outcomes map[string]map[string]int `json:"outcomes"`
	// Counters are the kernel's counts of every send, by id.
	Counters map[string]traceCounters `json:"counters"`
}

// traceCounters are the probes' always-on counts for one id.
type traceCounters struct {
	Sent   uint64 `json:"sent"`
	Failed uint64 `json:"failed"`
	// ByErrno counts the sends by what they returned: "ok", or the
	// errno's name.
	ByErrno   map[string]uint64 `json:"by_errno"`
	Delivered uint64            `json:"delivered"`
	Dropped   uint64            `json:"dropped"`
	Unreached uint64            `json:"unreached"`
	Inbound   uint64            `json:"inbound"`
}

func toTraceSend(r *probe.Record, wall time.Time) traceSend {
	l := traceSend{Type: "send", Time: timestamp(wall), KtimeNS: int64(r.Time), ID: r.ID.String(), Seq: r.Seq, Ack: r.Ack, Len: r.Len,
		Port: r.PortID, Group: r.Group, GroupResolved: r.GroupResolved, Ret: r.Ret, Outcome: string(r.Outcome()),
		Delivered: r.Delivered, Dropped: r.Dropped, Failed: r.Failed, BroadcastMissed: r.BroadcastMissed, LossesOnly: r.LossesOnly,
		Receivers: []traceReceiver{}}
	for _, rc := range r.Receivers {
		l.Receivers = append(l.Receivers, traceReceiver{rc.PortID, string(rc.Outcome), rc.Congested, rc.Drops, rc.RcvBuf, rc.RmemAlloc})
	}
	return l
}

func toTraceInbound(in *probe.Inbound, wall time.Time) traceInbound {
	return traceInbound{Type: "inbound", Time: timestamp(wall), KtimeNS: int64(in.Time), ID: in.ID.String(), Seq: in.Seq, Ack: in.Ack,
		Len: in.Len, NlmsgLen: in.NlmsgLen, Port: in.PortID, NlmsgPid: in.NlmsgPid}
}

func toTraceSummary(n int, sk probe.Skips, outcomes map[string]map[string]int, counts map[connector.ID]probe.Counters) traceSummary {
	s := traceSummary{Type: "summary", Time: timestamp(time.Now()), Records: n, NotRecorded: sk.Total(), UserSpaceDrops: sk.UserSpace,
		Outcomes: outcomes, Counters: map[string]traceCounters{}}
	s.Skips.RingBuffer, s.Skips.TooDeep, s.Skips.NoStorage = sk.RingBuffer, sk.TooDeep, sk.NoStorage
	s.Skips.Unattributed, s.Skips.CountersFull, s.Skips.Recursion = sk.Unattributed, sk.CountersFull, sk.Recursion
	s.Skips.Skipped = map[string]uint64{}
	for k, v := range sk.Skipped {
		s.Skips.Skipped[k] = v
	}
	for id, c := range counts {
		tc := traceCounters{Sent: c.Sent, Failed: c.Failed, ByErrno: map[string]uint64{}, Delivered: c.Delivered,
			Dropped: c.Dropped, Unreached: c.Unreached, Inbound: c.Inbound}
		for errno, k := range c.ByErrno {
			name := "ok"
			if errno != 0 {
				name = errnoName(errno)
			}
			tc.ByErrno[name] = k
		}
		s.Counters[id.String()] = tc
	}
	return s
}
