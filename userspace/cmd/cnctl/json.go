package main

import (
	"strconv"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/seqgap"
)

// cnctl's JSON output: one object a line, names in snake_case, times in RFC
// 3339 with date, fraction and zone. Each command's objects are the types
// below (ping's are pingReply and pingSummary in ping.go); json_test.go pins
// their field names. A field is added, never renamed or removed.

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

// messageEvent is a line of listen and send: a message that arrived
// (event "message"), the socket's queue overflowing ("overrun"), or, from
// send, the message sent ("sent").
type messageEvent struct {
	Event string `json:"event"` // message, overrun, sent
	Time  string `json:"time"`
	// Group is the multicast group the message was sent to, 0 for a
	// unicast; Port the sender's port id, 0 for the kernel.
	Group   uint32     `json:"group"`
	Port    uint32     `json:"port"`
	ID      string     `json:"id,omitempty"`
	Seq     uint32     `json:"seq"`
	Ack     uint32     `json:"ack"`
	Len     int        `json:"len"`
	What    string     `json:"what,omitempty"`    // what cnlab's broadcasts and notifications are
	Missed  []seqRange `json:"missed,omitempty"`  // seqs of this stream that never arrived, before this one
	Order   string     `json:"order,omitempty"`   // set when the seq went backwards
	Message string     `json:"message,omitempty"` // for an overrun, what it means
}

// listenSummary is the last line of listen and send.
type listenSummary struct {
	Event    string `json:"event"` // summary
	Time     string `json:"time"`
	Received int    `json:"received"`
	Missed   uint64 `json:"missed"`
	Gaps     int    `json:"gaps"`
	Overruns int    `json:"overruns"`
}

// ctlResult is the one line of every ctl operation: ok, what was done, the
// operation's result (stats, burst) if any, or the error.
type ctlResult struct {
	OK     bool   `json:"ok"`
	Op     string `json:"op"`
	Time   string `json:"time"`
	What   string `json:"what,omitempty"`
	Error  string `json:"error,omitempty"`
	Stats  *stats `json:"stats,omitempty"`
	Burst  *burst `json:"burst,omitempty"`
	Module string `json:"module_id"` // the control id asked

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
	s.Control.Received, s.Control.Invalid, s.Control.Refused = st.Ctl_received, st.Ctl_invalid, st.Ctl_refused
	s.ExtraReceived, s.ExtraInvalid = st.Extra_received, st.Extra_invalid
	s.TimerTicks, s.Notifications = st.Timer_ticks, st.Notifications
	s.Slots = map[string]slotStats{}
	for i, e := range st.Extra {
		if e.Used != 0 || e.Received != 0 || e.Invalid != 0 {
			id := connector.ID{Idx: e.Idx, Val: e.Val}
			s.Slots[strconv.Itoa(i)] = slotStats{id.String(), e.Used != 0, e.Received, e.Invalid}
		}
	}
	s.Late.Pending, s.Late.Bytes = st.Late_pending, st.Late_bytes
	s.Late.BytesMax, s.Late.Dropped = st.Late_bytes_max, st.Late_dropped
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
