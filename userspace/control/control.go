package control

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"syscall"

	"github.com/cnlab/cnlab/userspace/connector"
	"github.com/cnlab/cnlab/userspace/wire"
)

// DefaultID is the module's control id when loaded without parameters.
var DefaultID = connector.ID{Idx: wire.Idx, Val: wire.CtlVal}

// DefaultEchoID is the module's echo id when loaded without parameters, the
// id of the kernel's samples/connector/cn_test.c.
var DefaultEchoID = connector.ID{Idx: wire.Idx, Val: wire.EchoVal}

// Stats are the module's counters; see struct cnlab_stats.
type Stats = wire.Stats

// Client sends control requests over a connector connection.
type Client struct {
	Conn *connector.Conn
	ID   connector.ID
}

// Stats reads the module's counters.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	data, err := c.do(ctx, wire.OpGetStats)
	if err != nil {
		return st, err
	}
	if len(data) != wire.SizeofStats {
		return st, fmt.Errorf("control %s: stats reply carries %d bytes, want %d: is the module built from this source?", c.ID, len(data), wire.SizeofStats)
	}
	if err := binary.Read(bytes.NewReader(data), binary.NativeEndian, &st); err != nil {
		return st, fmt.Errorf("control %s: decode stats: %w", c.ID, err)
	}
	return st, nil
}

// do sends one control request and returns the reply's result, after its
// struct cnlab_ctl_reply.
func (c *Client) do(ctx context.Context, op uint32, args ...byte) ([]byte, error) {
	req := make([]byte, 0, wire.SizeofCtlReq+len(args))
	req = binary.NativeEndian.AppendUint32(req, op)
	req = binary.NativeEndian.AppendUint32(req, 0)
	req = append(req, args...)
	reply, err := c.Conn.Request(ctx, &connector.Message{ID: c.ID, Data: req})
	if err != nil {
		return nil, fmt.Errorf("control %s op %d: %w (is the cnlab module loaded?)", c.ID, op, err)
	}
	if len(reply.Data) < wire.SizeofCtlReply {
		return nil, fmt.Errorf("control %s op %d: reply of %d bytes, shorter than struct cnlab_ctl_reply", c.ID, op, len(reply.Data))
	}
	gotOp := binary.NativeEndian.Uint32(reply.Data[0:4])
	status := int32(binary.NativeEndian.Uint32(reply.Data[4:8]))
	if gotOp != op {
		return nil, fmt.Errorf("control %s: asked for op %d, reply is for op %d", c.ID, op, gotOp)
	}
	if status < 0 {
		return nil, fmt.Errorf("control %s op %d: refused: %w", c.ID, op, syscall.Errno(-status))
	}
	return reply.Data[wire.SizeofCtlReply:], nil
}

// ErrnoCount is how many sends failed with one errno.
type ErrnoCount struct {
	Errno syscall.Errno
	Count uint64
}

// SendErrors returns the nonzero per-errno send error counts, by errno.
func SendErrors(st *Stats) []ErrnoCount {
	var out []ErrnoCount
	for e, n := range st.Send_errors {
		if n != 0 {
			out = append(out, ErrnoCount{syscall.Errno(e), n})
		}
	}
	return out
}
