package proc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
)

// The values of include/uapi/linux/cn_proc.h and linux/connector.h;
// header_test.go checks them against the kernel headers.
const (
	// IdxProc and ValProc are CN_IDX_PROC and CN_VAL_PROC.
	IdxProc = 1
	ValProc = 1
	// Group is the multicast group every event is sent to: CN_IDX_PROC.
	Group = IdxProc

	// SizeofEvent is sizeof(struct proc_event): the len of every message
	// cn_proc sends.
	SizeofEvent = 40
	// SizeofInput is sizeof(struct proc_input), the 6.6+ request.
	SizeofInput = 8
	// SizeofOp is sizeof(enum proc_cn_mcast_op), the request every
	// kernel takes.
	SizeofOp = 4
	// headerLen is what precedes event_data: what, cpu, timestamp_ns.
	headerLen = 16
)

// ID is the process events connector's callback id.
var ID = connector.ID{Idx: IdxProc, Val: ValProc}

// Op is enum proc_cn_mcast_op.
type Op uint32

// The ops.
const (
	OpListen Op = 1 // PROC_CN_MCAST_LISTEN
	OpIgnore Op = 2 // PROC_CN_MCAST_IGNORE
)

// What is enum proc_cn_event: one event type, or a set of them as a
// filter.
type What uint32

// The event types. NonzeroExit is a filter bit only (exits with a nonzero
// exit_code); no event has it.
const (
	None        What = 0x00000000 // an ack
	Fork        What = 0x00000001
	Exec        What = 0x00000002
	UID         What = 0x00000004
	GID         What = 0x00000040
	SID         What = 0x00000080
	Ptrace      What = 0x00000100
	Comm        What = 0x00000200
	NonzeroExit What = 0x20000000
	Coredump    What = 0x40000000
	Exit        What = 0x80000000

	// All is PROC_EVENT_ALL, every type: the kernel's default filter.
	All = Fork | Exec | UID | GID | SID | Ptrace | Comm | NonzeroExit | Coredump | Exit
)

var whatNames = []struct {
	w    What
	name string
}{
	{Fork, "fork"}, {Exec, "exec"}, {UID, "uid"}, {GID, "gid"}, {SID, "sid"},
	{Ptrace, "ptrace"}, {Comm, "comm"}, {NonzeroExit, "nonzero-exit"},
	{Coredump, "coredump"}, {Exit, "exit"},
}

// String names one type ("fork", "ack" for None) or a set ("fork,exit").
func (w What) String() string {
	if w == None {
		return "ack"
	}
	var parts []string
	for _, n := range whatNames {
		if w&n.w != 0 {
			parts = append(parts, n.name)
			w &^= n.w
		}
	}
	if w != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint32(w)))
	}
	return strings.Join(parts, ",")
}

// ParseWhat parses a comma-separated list of type names, as String writes
// them; "all" is All.
func ParseWhat(s string) (What, error) {
	var w What
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		if f == "all" {
			w |= All
			continue
		}
		found := false
		for _, n := range whatNames {
			if n.name == f {
				w |= n.w
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown process event %q: want fork, exec, uid, gid, sid, ptrace, comm, coredump, exit, nonzero-exit or all", f)
		}
	}
	return w, nil
}

// known reports whether w is exactly one type an event can have.
func (w What) known() bool {
	switch w {
	case None, Fork, Exec, UID, GID, SID, Ptrace, Comm, Coredump, Exit:
		return true
	}
	return false
}

var (
	// ErrMalformed is returned by Decode for a message that is not a
	// process event: another id, or fewer bytes than its type needs.
	ErrMalformed = errors.New("malformed process event")
	// ErrUnknownEvent is returned by Decode for an event type the
	// package does not know (a newer kernel's, or garbage).
	ErrUnknownEvent = errors.New("unknown process event type")
)

// Event is one struct proc_event and the cn_msg fields that matter. Which
// of the fields are set depends on What; the others are zero.
type Event struct {
	What What
	// CPU is the CPU the event was sent on; Seq counts the events sent
	// on that CPU (cn_msg.seq).
	CPU uint32
	Seq uint32
	// Ack is cn_msg.ack: the request's ack + 1 in an ack, else 0.
	Ack uint32
	// Timestamp is ktime_get_ns() when the event was made: time since
	// boot, without time suspended.
	Timestamp time.Duration

	// Err is an ack's error: 0, or a positive errno (EPERM, EINVAL).
	Err syscall.Errno

	// PID and TGID are the process the event is about (the child for a
	// fork): the thread id and the thread group id (what user space calls
	// the process id), in the initial pid namespace.
	PID, TGID int32
	// ParentPID and ParentTGID are the parent: of a fork (the forking
	// thread's real parent's, for a thread: the process's parent), an
	// exit and a coredump.
	ParentPID, ParentTGID int32
	// TracerPID and TracerTGID are the tracer of a ptrace event; 0 for a
	// detach.
	TracerPID, TracerTGID int32
	// Real and Effective are the uid of a UID event, the gid of a GID
	// event, as seen from the initial user namespace.
	Real, Effective uint32
	// Comm is the task's new name, for a Comm event.
	Comm string
	// ExitCode is the task's exit_code, a wait status (code << 8, or the
	// signal, | 0x80 when it dumped core); ExitSignal is the signal its
	// parent gets (SIGCHLD, or -1 for a thread).
	ExitCode   uint32
	ExitSignal int32
}

// Status is ExitCode as a wait status: Exited, ExitStatus, Signaled,
// Signal, CoreDump.
func (e *Event) Status() syscall.WaitStatus { return syscall.WaitStatus(e.ExitCode) }

// needs is how many bytes of event_data each type reads.
func needs(w What) int {
	switch w {
	case None:
		return 4
	case Exec, SID:
		return 8
	case UID, GID, Fork, Ptrace, Coredump:
		return 16
	case Comm, Exit:
		return 24
	}
	return 0
}

// Decode decodes a message from the process events connector. It checks
// the id and that the data holds the whole event its type needs; it never
// reads past m.Data.
func Decode(m connector.Message) (Event, error) {
	if m.ID != ID {
		return Event{}, fmt.Errorf("%w: id %s, not the process events connector's %s", ErrMalformed, m.ID, ID)
	}
	e, err := Unmarshal(m.Data)
	if err != nil {
		return Event{}, err
	}
	e.Seq, e.Ack = m.Seq, m.Ack
	return e, nil
}

// DecodeMessage decodes a struct cn_msg and its data, as a netlink payload
// holds it: the message's len must agree with what is there.
func DecodeMessage(b []byte) (Event, error) {
	var m connector.Message
	if err := m.UnmarshalBinary(b); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return Decode(m)
}

// Unmarshal decodes a struct proc_event.
func Unmarshal(b []byte) (Event, error) {
	if len(b) < headerLen {
		return Event{}, fmt.Errorf("%w: %d bytes, shorter than the %d of what, cpu and timestamp", ErrMalformed, len(b), headerLen)
	}
	ne := binary.NativeEndian
	e := Event{
		What:      What(ne.Uint32(b[0:4])),
		CPU:       ne.Uint32(b[4:8]),
		Timestamp: time.Duration(ne.Uint64(b[8:16])),
	}
	if !e.What.known() {
		return Event{}, fmt.Errorf("%w: %#x", ErrUnknownEvent, uint32(e.What))
	}
	d := b[headerLen:]
	if n := needs(e.What); len(d) < n {
		return Event{}, fmt.Errorf("%w: a %s event needs %d bytes of event_data, %d arrived", ErrMalformed, e.What, n, len(d))
	}
	i32 := func(off int) int32 { return int32(ne.Uint32(d[off : off+4])) }
	switch e.What {
	case None:
		e.Err = syscall.Errno(ne.Uint32(d[0:4]))
	case Fork:
		e.ParentPID, e.ParentTGID = i32(0), i32(4)
		e.PID, e.TGID = i32(8), i32(12)
	case Exec, SID:
		e.PID, e.TGID = i32(0), i32(4)
	case UID, GID:
		e.PID, e.TGID = i32(0), i32(4)
		e.Real, e.Effective = uint32(i32(8)), uint32(i32(12))
	case Ptrace:
		e.PID, e.TGID = i32(0), i32(4)
		e.TracerPID, e.TracerTGID = i32(8), i32(12)
	case Comm:
		e.PID, e.TGID = i32(0), i32(4)
		comm := d[8:24]
		if i := strings.IndexByte(string(comm), 0); i >= 0 {
			comm = comm[:i]
		}
		e.Comm = string(comm)
	case Coredump:
		e.PID, e.TGID = i32(0), i32(4)
		e.ParentPID, e.ParentTGID = i32(8), i32(12)
	case Exit:
		e.PID, e.TGID = i32(0), i32(4)
		e.ExitCode, e.ExitSignal = uint32(i32(8)), i32(12)
		e.ParentPID, e.ParentTGID = i32(16), i32(20)
	}
	return e, nil
}

// MarshalBinary encodes e as a struct proc_event of SizeofEvent bytes, as
// the kernel sends it. It is for tests and fakes.
func (e *Event) MarshalBinary() ([]byte, error) {
	if !e.What.known() {
		return nil, fmt.Errorf("%w: %#x", ErrUnknownEvent, uint32(e.What))
	}
	b := make([]byte, SizeofEvent)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:4], uint32(e.What))
	ne.PutUint32(b[4:8], e.CPU)
	ne.PutUint64(b[8:16], uint64(e.Timestamp))
	d := b[headerLen:]
	put := func(off int, v int32) { ne.PutUint32(d[off:off+4], uint32(v)) }
	switch e.What {
	case None:
		ne.PutUint32(d[0:4], uint32(e.Err))
	case Fork:
		put(0, e.ParentPID)
		put(4, e.ParentTGID)
		put(8, e.PID)
		put(12, e.TGID)
	case Exec, SID:
		put(0, e.PID)
		put(4, e.TGID)
	case UID, GID:
		put(0, e.PID)
		put(4, e.TGID)
		put(8, int32(e.Real))
		put(12, int32(e.Effective))
	case Ptrace:
		put(0, e.PID)
		put(4, e.TGID)
		put(8, e.TracerPID)
		put(12, e.TracerTGID)
	case Comm:
		put(0, e.PID)
		put(4, e.TGID)
		copy(d[8:23], e.Comm) // 15 bytes and the NUL, as TASK_COMM_LEN
	case Coredump:
		put(0, e.PID)
		put(4, e.TGID)
		put(8, e.ParentPID)
		put(12, e.ParentTGID)
	case Exit:
		put(0, e.PID)
		put(4, e.TGID)
		put(8, int32(e.ExitCode))
		put(12, e.ExitSignal)
		put(16, e.ParentPID)
		put(20, e.ParentTGID)
	}
	return b, nil
}

// String is one line: the type and its fields.
func (e *Event) String() string {
	switch e.What {
	case None:
		return fmt.Sprintf("ack err=%d ack=%d", int(e.Err), e.Ack)
	case Fork:
		return fmt.Sprintf("fork parent=%d/%d child=%d/%d", e.ParentTGID, e.ParentPID, e.TGID, e.PID)
	case Exec:
		return fmt.Sprintf("exec pid=%d/%d", e.TGID, e.PID)
	case UID:
		return fmt.Sprintf("uid pid=%d/%d ruid=%d euid=%d", e.TGID, e.PID, e.Real, e.Effective)
	case GID:
		return fmt.Sprintf("gid pid=%d/%d rgid=%d egid=%d", e.TGID, e.PID, e.Real, e.Effective)
	case SID:
		return fmt.Sprintf("sid pid=%d/%d", e.TGID, e.PID)
	case Ptrace:
		return fmt.Sprintf("ptrace pid=%d/%d tracer=%d/%d", e.TGID, e.PID, e.TracerTGID, e.TracerPID)
	case Comm:
		return fmt.Sprintf("comm pid=%d/%d comm=%q", e.TGID, e.PID, e.Comm)
	case Coredump:
		return fmt.Sprintf("coredump pid=%d/%d parent=%d/%d", e.TGID, e.PID, e.ParentTGID, e.ParentPID)
	case Exit:
		return fmt.Sprintf("exit pid=%d/%d code=%#x signal=%d parent=%d/%d", e.TGID, e.PID, e.ExitCode, e.ExitSignal, e.ParentTGID, e.ParentPID)
	}
	return fmt.Sprintf("event %#x", uint32(e.What))
}
