package controltest

import (
	"context"
	"fmt"
	"syscall"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/control"
	"github.com/cnlab/cnlab/userspace/wire"
)

// Case is one row of the agreement table: requests that must succeed
// first, then one request and the status it must get; for a burst, the
// result too (its seq aside). The module's own ids are the defaults
// (control.DefaultEchoID and control.DefaultID); the sender has
// CAP_NET_ADMIN.
type Case struct {
	Name    string
	Before  []control.Request
	Request control.Request
	Want    syscall.Errno
	// WantBurst, for a burst that succeeds: its count, ok and failed.
	WantBurst *wire.BurstResult
}

// nobody is a port no socket has: a unicast to it fails.
const nobody = 0x7fffffff

// spare is an id no one registers but these cases.
var spare = connector.ID{Idx: wire.Idx, Val: 0x4d0}

func burst(b wire.Burst) control.Request { return control.NewRequest(wire.OpBurst, b) }
func timer(group, period uint32) control.Request {
	return control.NewRequest(wire.OpTimerStart, wire.Timer{Group: group, Period: period})
}
func echoMode(mode, count, delay, reserved uint32) control.Request {
	return control.NewRequest(wire.OpEchoMode, wire.EchoMode{Mode: mode, Count: count, Delay: delay, Reserved: reserved})
}
func register(id connector.ID) control.Request {
	return control.NewRequest(wire.OpRegister, wire.IDArg{Idx: id.Idx, Val: id.Val})
}
func unregister(id connector.ID) control.Request {
	return control.NewRequest(wire.OpUnregister, wire.IDArg{Idx: id.Idx, Val: id.Val})
}

// fill registers wire.MaxExtraIDs ids besides spare.
func fill() []control.Request {
	var rs []control.Request
	for i := uint32(0); i < wire.MaxExtraIDs; i++ {
		rs = append(rs, register(connector.ID{Idx: spare.Idx, Val: spare.Val + 1 + i}))
	}
	return rs
}

// Cases is the agreement table: each operation with its arguments on
// either side of each bound, and the refusals that depend on the state.
var Cases = []Case{
	{Name: "stats", Request: control.NewRequest(wire.OpGetStats)},
	{Name: "op 0 is unknown", Request: control.NewRequest(0), Want: syscall.EOPNOTSUPP},
	{Name: "the op after the last is unknown", Request: control.NewRequest(wire.OpEchoMode + 1), Want: syscall.EOPNOTSUPP},
	{Name: "op 0xffffffff is unknown", Request: control.NewRequest(0xffffffff), Want: syscall.EOPNOTSUPP},
	{Name: "reserved not zero", Request: control.Request{Op: wire.OpGetStats, Reserved: 1}, Want: syscall.EINVAL},
	{Name: "stats with an argument byte", Request: control.Request{Op: wire.OpGetStats, Args: []byte{0}}, Want: syscall.EINVAL},
	{Name: "burst a byte short", Request: control.Request{Op: wire.OpBurst, Args: make([]byte, 15)}, Want: syscall.EINVAL},
	{Name: "timer stop with an argument byte", Request: control.Request{Op: wire.OpTimerStop, Args: []byte{0}}, Want: syscall.EINVAL},

	{Name: "burst to nobody's port", Request: burst(wire.Burst{Portid: nobody, Count: 2, Size: wire.SizeofBcast}),
		WantBurst: &wire.BurstResult{Count: 2, Failed: 2}},
	{Name: "burst of MaxCount+1", Request: burst(wire.Burst{Portid: nobody, Count: wire.MaxCount + 1, Size: wire.SizeofBcast}), Want: syscall.EINVAL},
	{Name: "burst of 4294967295", Request: burst(wire.Burst{Portid: nobody, Count: 0xffffffff, Size: wire.SizeofBcast}), Want: syscall.EINVAL},
	{Name: "burst to neither group nor port", Request: burst(wire.Burst{Count: 1, Size: wire.SizeofBcast}), Want: syscall.EINVAL},
	{Name: "burst to group Groups+1", Request: burst(wire.Burst{Group: wire.Groups + 1, Count: 1, Size: wire.SizeofBcast}), Want: syscall.EINVAL},
	{Name: "burst to a group and a port: the group, none sent", Request: burst(wire.Burst{Group: wire.Groups, Portid: nobody, Size: wire.SizeofBcast}),
		WantBurst: &wire.BurstResult{}},
	{Name: "burst of messages a byte short of struct cnlab_bcast", Request: burst(wire.Burst{Portid: nobody, Count: 1, Size: wire.SizeofBcast - 1}), Want: syscall.EINVAL},
	{Name: "burst of messages of MaxData", Request: burst(wire.Burst{Portid: nobody, Count: 1, Size: wire.MaxData}),
		WantBurst: &wire.BurstResult{Count: 1, Failed: 1}},
	{Name: "burst of messages of MaxData+1", Request: burst(wire.Burst{Portid: nobody, Count: 1, Size: wire.MaxData + 1}), Want: syscall.EINVAL},

	{Name: "timer on group 0", Request: timer(0, 1000), Want: syscall.EINVAL},
	{Name: "timer on group Groups+1", Request: timer(wire.Groups+1, 1000), Want: syscall.EINVAL},
	{Name: "timer every 0 ms", Request: timer(1, 0), Want: syscall.EINVAL},
	{Name: "timer every MaxPeriod ms", Request: timer(wire.Groups, wire.MaxPeriod)},
	{Name: "timer every MaxPeriod+1 ms", Request: timer(1, wire.MaxPeriod+1), Want: syscall.EINVAL},
	{Name: "timer every 49 days", Request: timer(1, 0xffffffff), Want: syscall.EINVAL},
	{Name: "timer stop", Request: control.NewRequest(wire.OpTimerStop)},

	{Name: "echo mode none", Request: echoMode(wire.EchoNone, 0, 0, 0)},
	{Name: "echo mode after none", Request: echoMode(wire.EchoNone+1, 0, 0, 0), Want: syscall.EINVAL},
	{Name: "echo mode for MaxCount, MaxDelay", Request: echoMode(wire.EchoNormal, wire.MaxCount, wire.MaxDelay, 0)},
	{Name: "echo mode for MaxCount+1", Request: echoMode(wire.EchoNormal, wire.MaxCount+1, 0, 0), Want: syscall.EINVAL},
	{Name: "echo mode delay of MaxDelay+1", Request: echoMode(wire.EchoDelay, 0, wire.MaxDelay+1, 0), Want: syscall.EINVAL},
	{Name: "echo mode with reserved not zero", Request: echoMode(wire.EchoNormal, 0, 0, 1), Want: syscall.EINVAL},

	{Name: "register", Request: register(spare)},
	{Name: "register twice", Before: []control.Request{register(spare)}, Request: register(spare), Want: syscall.EEXIST},
	{Name: "register cnlab's echo id", Request: register(control.DefaultEchoID), Want: syscall.EINVAL},
	{Name: "register cnlab's control id", Request: register(control.DefaultID), Want: syscall.EINVAL},
	{Name: "register beyond MaxExtraIDs", Before: fill(), Request: register(spare), Want: syscall.ENOSPC},
	{Name: "register an id registered, all slots used", Before: fill(), Request: register(connector.ID{Idx: spare.Idx, Val: spare.Val + 1}), Want: syscall.EEXIST},
	{Name: "unregister", Before: []control.Request{register(spare)}, Request: unregister(spare)},
	{Name: "unregister an id never registered", Request: unregister(spare), Want: syscall.ENOENT},
	{Name: "unregister cnlab's echo id", Request: unregister(control.DefaultEchoID), Want: syscall.ENOENT},
}

// Predict returns the status the model (control.Model) says the module
// answers tc's request with, after tc's Before requests.
func (tc Case) Predict() syscall.Errno {
	m := control.NewModel(control.DefaultEchoID, control.DefaultID)
	for _, r := range tc.Before {
		m.Answer(r.Data(), true)
	}
	return m.Answer(tc.Request.Data(), true).Status
}

// Run runs tc on the module behind conn, whose control id is id, and
// returns an error saying how its answer differs from tc's. It undoes what
// it changed (ids registered, the timer, the echo mode) before it returns.
func (tc Case) Run(ctx context.Context, conn *connector.Conn, id connector.ID) (err error) {
	var registered []connector.ID
	defer func() {
		if uerr := undo(ctx, conn, id, registered); uerr != nil && err == nil {
			err = uerr
		}
	}()
	note := func(r control.Request) {
		if r.Op != wire.OpRegister && r.Op != wire.OpUnregister {
			return
		}
		var a wire.IDArg
		_ = r.DecodeArgs(&a)
		x := connector.ID{Idx: a.Idx, Val: a.Val}
		if r.Op == wire.OpRegister {
			registered = append(registered, x)
			return
		}
		for i := range registered {
			if registered[i] == x {
				registered = append(registered[:i], registered[i+1:]...)
				break
			}
		}
	}
	for i, r := range tc.Before {
		reply, err := Do(ctx, conn, id, r)
		if err != nil {
			return fmt.Errorf("request %d before: %w", i, err)
		}
		if status := reply.Errno(); status != 0 {
			return fmt.Errorf("request %d before (op %d): status %s, want success", i, r.Op, errnoName(status))
		}
		note(r)
	}
	reply, err := Do(ctx, conn, id, tc.Request)
	if err != nil {
		return err
	}
	status, result := reply.Errno(), reply.Result
	if status == 0 {
		note(tc.Request)
	}
	if status != tc.Want {
		return fmt.Errorf("status %s, want %s", errnoName(status), errnoName(tc.Want))
	}
	if status != 0 {
		if len(result) != 0 {
			return fmt.Errorf("a refusal with a result of %d bytes", len(result))
		}
		return nil
	}
	if want := control.ResultSize(tc.Request.Op); len(result) != want {
		return fmt.Errorf("a result of %d bytes, want %d", len(result), want)
	}
	if tc.WantBurst != nil {
		var got wire.BurstResult
		_ = reply.DecodeResult(&got) // its size checked above
		got.Seq = 0
		if got != *tc.WantBurst {
			return fmt.Errorf("burst result %+v (seq aside), want %+v", got, *tc.WantBurst)
		}
	}
	return nil
}

// undo unregisters ids, stops the timer and sets the echo mode back.
func undo(ctx context.Context, conn *connector.Conn, id connector.ID, ids []connector.ID) error {
	reqs := []control.Request{control.NewRequest(wire.OpTimerStop), echoMode(wire.EchoNormal, 0, 0, 0)}
	for _, x := range ids {
		reqs = append(reqs, unregister(x))
	}
	for _, r := range reqs {
		reply, err := Do(ctx, conn, id, r)
		if err == nil && reply.Errno() != 0 {
			err = fmt.Errorf("status %s", errnoName(reply.Errno()))
		}
		if err != nil {
			return fmt.Errorf("undo (op %d): %w", r.Op, err)
		}
	}
	return nil
}

// Do sends r to the control id and returns its reply, whatever its
// status; an error if there is none, or it is not a reply to r.
func Do(ctx context.Context, conn *connector.Conn, id connector.ID, r control.Request) (control.Reply, error) {
	msg, err := conn.Request(ctx, &connector.Message{ID: id, Data: r.Data()})
	if err != nil {
		return control.Reply{}, fmt.Errorf("op %d: %w", r.Op, err)
	}
	reply, ok := control.ParseReply(msg.Data)
	if !ok {
		return control.Reply{}, fmt.Errorf("op %d: a reply of %d bytes, shorter than struct cnlab_ctl_reply", r.Op, len(msg.Data))
	}
	if reply.Op != r.Op {
		return control.Reply{}, fmt.Errorf("op %d: the reply is for op %d", r.Op, reply.Op)
	}
	return reply, nil
}

func errnoName(e syscall.Errno) string {
	if e == 0 {
		return "success"
	}
	return fmt.Sprintf("%d (%v)", int(e), e)
}
