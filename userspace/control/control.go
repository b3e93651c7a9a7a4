package control

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/wire"
)

// DefaultID is the module's control id when loaded without parameters.
var DefaultID = connector.ID{Idx: wire.Idx, Val: wire.CtlVal}

// DefaultEchoID is the module's echo id when loaded without parameters, the
// id of the kernel's samples/connector/cn_test.c.
var DefaultEchoID = connector.ID{Idx: wire.Idx, Val: wire.EchoVal}

// Client sends control requests over a connector connection.
type Client struct {
	Conn *connector.Conn
	// ID is the module's control id; the zero ID means DefaultID, the
	// id of a module loaded without parameters.
	ID connector.ID
}

// id is the control id requests go to.
func (c *Client) id() connector.ID {
	if c.ID == (connector.ID{}) {
		return DefaultID
	}
	return c.ID
}

// Stats reads the module's counters.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	data, err := c.do(ctx, wire.OpGetStats)
	if err != nil {
		return st, err
	}
	if len(data) != wire.SizeofStats {
		return st, fmt.Errorf("control %s: stats reply carries %d bytes, want %d: is the module built from this source?", c.id(), len(data), wire.SizeofStats)
	}
	if err := decode(data, &st); err != nil {
		return st, fmt.Errorf("control %s: decode stats: %w", c.id(), err)
	}
	return st, nil
}

// Burst asks the module to send b.Count messages of b.Size bytes to group
// b.Group, or to port b.Portid if the group is 0, and returns the seqs it
// used and how the sends went.
func (c *Client) Burst(ctx context.Context, b wire.Burst) (wire.BurstResult, error) {
	var res wire.BurstResult
	data, err := c.do(ctx, wire.OpBurst, encode(b)...)
	if err != nil {
		return res, err
	}
	if err := decode(data, &res); err != nil {
		return res, fmt.Errorf("control %s: burst result: %w", c.id(), err)
	}
	return res, nil
}

// TimerStart starts (or moves) the module's timer broadcast to group, one
// message per period.
func (c *Client) TimerStart(ctx context.Context, group uint32, period time.Duration) error {
	if period < time.Millisecond {
		return fmt.Errorf("timer period %v: the module counts in milliseconds, at least 1ms", period)
	}
	_, err := c.do(ctx, wire.OpTimerStart, encode(wire.Timer{Group: group, Period: uint32(period / time.Millisecond)})...)
	return err
}

// TimerStop stops the timer broadcast; stopping a stopped timer is no error.
func (c *Client) TimerStop(ctx context.Context) error {
	_, err := c.do(ctx, wire.OpTimerStop)
	return err
}

// Register makes the module register id, which then echoes as the echo id
// does, and notify the registration.
func (c *Client) Register(ctx context.Context, id connector.ID) error {
	_, err := c.do(ctx, wire.OpRegister, encode(wire.IDArg{Idx: id.Idx, Val: id.Val})...)
	return err
}

// Unregister undoes Register.
func (c *Client) Unregister(ctx context.Context, id connector.ID) error {
	_, err := c.do(ctx, wire.OpUnregister, encode(wire.IDArg{Idx: id.Idx, Val: id.Val})...)
	return err
}

// EchoMode says how the echo id answers its next count requests.
type EchoMode uint32

// Echo modes; see enum cnlab_echo_modes.
const (
	EchoNormal   EchoMode = wire.EchoNormal
	EchoTwice    EchoMode = wire.EchoTwice
	EchoWrongAck EchoMode = wire.EchoWrongAck
	EchoDelay    EchoMode = wire.EchoDelay
	EchoNone     EchoMode = wire.EchoNone
)

var echoModeNames = map[string]EchoMode{"normal": EchoNormal, "twice": EchoTwice, "wrong-ack": EchoWrongAck, "delay": EchoDelay, "none": EchoNone}

// ParseEchoMode parses normal, twice, wrong-ack, delay or none.
func ParseEchoMode(s string) (EchoMode, error) {
	if m, ok := echoModeNames[s]; ok {
		return m, nil
	}
	return 0, fmt.Errorf("echo mode %q: want normal, twice, wrong-ack, delay or none", s)
}

// SetEchoMode makes the echo id answer its next count requests in mode;
// delay applies to EchoDelay.
func (c *Client) SetEchoMode(ctx context.Context, mode EchoMode, count uint32, delay time.Duration) error {
	_, err := c.do(ctx, wire.OpEchoMode, encode(wire.EchoMode{Mode: uint32(mode), Count: count, Delay: uint32(delay / time.Millisecond)})...)
	return err
}

// do sends one control request and returns the reply's result, after its
// struct cnlab_ctl_reply.
func (c *Client) do(ctx context.Context, op uint32, args ...byte) ([]byte, error) {
	reply, err := c.Conn.Request(ctx, &connector.Message{ID: c.id(), Data: Request{Op: op, Args: args}.Data()})
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("control %s op %d: no callback on %s: is the cnlab module loaded? (%w)", c.id(), op, c.id(), err)
	}
	if err != nil {
		return nil, fmt.Errorf("control %s op %d: %w", c.id(), op, err)
	}
	r, ok := ParseReply(reply.Data)
	if !ok {
		return nil, fmt.Errorf("control %s op %d: reply of %d bytes, shorter than struct cnlab_ctl_reply", c.id(), op, len(reply.Data))
	}
	if r.Op != op {
		return nil, fmt.Errorf("control %s: asked for op %d, reply is for op %d", c.id(), op, r.Op)
	}
	if r.Status < 0 {
		hint := ""
		if r.Errno() == syscall.EPERM {
			hint = " (changing the module's state needs CAP_NET_ADMIN)"
		}
		return nil, fmt.Errorf("control %s op %d: refused: %w%s", c.id(), op, r.Errno(), hint)
	}
	return r.Result, nil
}
