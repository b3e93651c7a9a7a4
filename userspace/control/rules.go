package control

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/wire"
)

// The control id's rules, as kmod/cnlab_ctl.c applies them: the one Go
// account of them, built from wire's constants. The fake module
// (controltest), cnctl's checks before it sends and the e2e fuzz oracle
// all ask it; controltest.Cases checks it against the module in a guest.

// Range is the bounds of one argument, both included.
type Range struct{ Min, Max uint32 }

// Contains reports whether v is within r.
func (r Range) Contains(v uint32) bool { return r.Min <= v && v <= r.Max }

// The bounds of the operations' arguments; a value outside them is answered
// with EINVAL. Periods and delays are in milliseconds.
var (
	BurstGroups  = Range{0, wire.Groups} // 0: to the port instead
	BurstCounts  = Range{0, wire.MaxCount}
	BurstSizes   = Range{wire.SizeofBcast, wire.MaxData}
	TimerGroups  = Range{1, wire.Groups}
	TimerPeriods = Range{1, wire.MaxPeriod}
	EchoModes    = Range{wire.EchoNormal, wire.EchoNone}
	EchoCounts   = Range{0, wire.MaxCount}
	EchoDelays   = Range{0, wire.MaxDelay}
)

// ArgError is an operation's argument that the module refuses with EINVAL.
type ArgError struct {
	Op    string // the operation: "burst", "timer", "echo mode"
	Field string // the field of its struct in cnlab_wire.h
	Value uint32
	Want  string // what the module takes
}

func (e *ArgError) Error() string {
	return fmt.Sprintf("%s %s %d: the module takes %s", e.Op, e.Field, e.Value, e.Want)
}

// Unwrap returns EINVAL, the module's answer.
func (e *ArgError) Unwrap() error { return syscall.EINVAL }

func checkRange(op, field string, v uint32, r Range, unit string) error {
	if r.Contains(v) {
		return nil
	}
	return &ArgError{Op: op, Field: field, Value: v, Want: fmt.Sprintf("%d to %d%s", r.Min, r.Max, unit)}
}

// CheckBurst returns nil if the module takes b, else an *ArgError.
// A burst with both a group and a port goes to the group.
func CheckBurst(b wire.Burst) error {
	if b.Group == 0 && b.Portid == 0 {
		return &ArgError{Op: "burst", Field: "portid", Value: 0, Want: "a port when the group is 0"}
	}
	for _, err := range []error{
		checkRange("burst", "group", b.Group, BurstGroups, ""),
		checkRange("burst", "count", b.Count, BurstCounts, ""),
		checkRange("burst", "size", b.Size, BurstSizes, " bytes"),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// CheckTimer returns nil if the module takes t, else an *ArgError.
func CheckTimer(t wire.Timer) error {
	if err := checkRange("timer", "group", t.Group, TimerGroups, ""); err != nil {
		return err
	}
	return checkRange("timer", "period", t.Period, TimerPeriods, " ms")
}

// CheckEchoMode returns nil if the module takes e, else an *ArgError.
func CheckEchoMode(e wire.EchoMode) error {
	for _, err := range []error{
		checkRange("echo mode", "mode", e.Mode, EchoModes, ""),
		checkRange("echo mode", "count", e.Count, EchoCounts, ""),
		checkRange("echo mode", "delay", e.Delay, EchoDelays, " ms"),
		checkRange("echo mode", "reserved", e.Reserved, Range{0, 0}, ""),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// ArgsSize returns the size of op's arguments, and false for an operation
// the module does not know.
func ArgsSize(op uint32) (int, bool) {
	switch op {
	case wire.OpGetStats, wire.OpTimerStop:
		return 0, true
	case wire.OpBurst:
		return binary.Size(wire.Burst{}), true
	case wire.OpTimerStart:
		return binary.Size(wire.Timer{}), true
	case wire.OpRegister, wire.OpUnregister:
		return binary.Size(wire.IDArg{}), true
	case wire.OpEchoMode:
		return binary.Size(wire.EchoMode{}), true
	}
	return 0, false
}

// ResultSize returns the size of the result that follows a successful
// reply to op.
func ResultSize(op uint32) int {
	switch op {
	case wire.OpGetStats:
		return wire.SizeofStats
	case wire.OpBurst:
		return binary.Size(wire.BurstResult{})
	}
	return 0
}

// Verdict is how the module takes one request to its control id.
type Verdict struct {
	// Status is the reply's status as an errno, 0 for success.
	Status syscall.Errno
	// Silent: no reply at all (a request shorter than struct
	// cnlab_ctl_req).
	Silent bool
	// Invalid and Refused: counted in ctl_invalid, in ctl_refused.
	Invalid, Refused bool
}

// Model is the module's control id as a state machine: the further ids it
// registered (in its slots, lowest free first, as cnlab_ctl.c), the timer
// and the echo mode, and the status each request gets. Results that depend
// on the kernel (a burst's sends, the counters) are not its business, nor
// is unloading (ESHUTDOWN).
type Model struct {
	taken map[connector.ID]bool
	slots [wire.MaxExtraIDs]struct {
		id   connector.ID
		used bool
	}
	timer wire.Timer // Group 0: stopped
	echo  wire.EchoMode
}

// NewModel returns the model of a module just loaded, whose callbacks hold
// taken (its echo and control ids, and any other the core already has a
// callback for): registering one of those is EINVAL, as cn_add_callback
// refuses it.
func NewModel(taken ...connector.ID) *Model {
	m := &Model{taken: map[connector.ID]bool{}}
	for _, id := range taken {
		m.taken[id] = true
	}
	return m
}

// Answer returns how the module takes data sent to its control id by a
// sender with CAP_NET_ADMIN (admin) or without, and changes the model as
// the module changes.
func (m *Model) Answer(data []byte, admin bool) Verdict {
	req, ok := ParseRequest(data)
	if !ok {
		return Verdict{Silent: true, Invalid: true}
	}
	n, known := ArgsSize(req.Op)
	switch {
	case !known:
		return Verdict{Status: syscall.EOPNOTSUPP, Invalid: true}
	case req.Reserved != 0 || len(req.Args) != n:
		return Verdict{Status: syscall.EINVAL, Invalid: true}
	case req.Op == wire.OpGetStats:
		return Verdict{}
	case !admin:
		return Verdict{Status: syscall.EPERM, Refused: true}
	}
	return Verdict{Status: m.change(req)}
}

// change runs a well-formed operation that changes state, from an admin.
func (m *Model) change(req Request) syscall.Errno {
	errno := func(err error) syscall.Errno {
		if err != nil {
			return syscall.EINVAL
		}
		return 0
	}
	switch req.Op {
	case wire.OpBurst:
		var b wire.Burst
		_ = req.DecodeArgs(&b)
		return errno(CheckBurst(b))
	case wire.OpTimerStart:
		var t wire.Timer
		_ = req.DecodeArgs(&t)
		if err := CheckTimer(t); err != nil {
			return syscall.EINVAL
		}
		m.timer = t
	case wire.OpTimerStop:
		m.timer = wire.Timer{}
	case wire.OpRegister, wire.OpUnregister:
		var a wire.IDArg
		_ = req.DecodeArgs(&a)
		id := connector.ID{Idx: a.Idx, Val: a.Val}
		if req.Op == wire.OpUnregister {
			i := m.Slot(id)
			if i < 0 {
				return syscall.ENOENT
			}
			m.slots[i].used = false
			return 0
		}
		if m.Slot(id) >= 0 {
			return syscall.EEXIST
		}
		free := -1
		for i := range m.slots {
			if !m.slots[i].used {
				free = i
				break
			}
		}
		switch {
		case free < 0:
			return syscall.ENOSPC
		case m.taken[id]:
			return syscall.EINVAL
		}
		m.slots[free].id, m.slots[free].used = id, true
	case wire.OpEchoMode:
		var e wire.EchoMode
		_ = req.DecodeArgs(&e)
		if err := CheckEchoMode(e); err != nil {
			return syscall.EINVAL
		}
		m.echo = e
	}
	return 0
}

// Slot returns the slot that holds the registered id, or -1.
func (m *Model) Slot(id connector.ID) int {
	for i, s := range m.slots {
		if s.used && s.id == id {
			return i
		}
	}
	return -1
}

// Registered returns the further ids registered, by slot.
func (m *Model) Registered() []connector.ID {
	var ids []connector.ID
	for _, s := range m.slots {
		if s.used {
			ids = append(ids, s.id)
		}
	}
	return ids
}

// Timer returns the timer's group and period in ms; group 0 if stopped.
func (m *Model) Timer() wire.Timer { return m.timer }

// EchoMode returns the echo mode last set.
func (m *Model) EchoMode() wire.EchoMode { return m.echo }
